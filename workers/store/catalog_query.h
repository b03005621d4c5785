/*
 * Catalog reads against the tables (catalog_query.c): what a
 * CAT_READ_REQ returns, pure like the tables so tests run it directly.
 */
#ifndef MUSTER_STORE_CATALOG_QUERY_H
#define MUSTER_STORE_CATALOG_QUERY_H

#include "workers/store/catalog.h"

/* A read's answer (the fields of CAT_READ) and its blocking key. */
struct cat_result {
	uint64_t index;		/* never 0 */
	bool found;		/* CAT_Q_NODE_SERVICES: the node exists */
	struct buf node;	/* CAT_Q_NODE_SERVICES: its CAT_NODE */
	struct cat_list items;	/* as proto_cat_query says */
	char *watch;		/* the key a blocking query parks on */
};

/* Run q (proto_cat_query); -EINVAL for an unknown query or a malformed
 * name or node_meta.  Free r with cat_result_free either way. */
int cat_query(const struct cat_db *db, const struct proto_cat_read_req *q,
    struct cat_result *r);
/* Only the index q would report (name: q's, decoded) and its watch key
 * (malloc'd): what a woken blocking query checks before answering. */
uint64_t cat_query_index(const struct cat_db *db,
    const struct proto_cat_read_req *q, const char *name, char **watch);
void cat_result_free(struct cat_result *r);

#endif
