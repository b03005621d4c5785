/* Internals shared by the catalog's files (catalog.c owns the trees). */
#ifndef MUSTER_STORE_CATALOG_INT_H
#define MUSTER_STORE_CATALOG_INT_H

#include "workers/store/catalog.h"

void cat_node_init_trees(struct cat_node *n);
void cat_kv_free(struct cat_kv *kv, uint32_t n);
void cat_strs_free(char **v, uint32_t n);
/* Unlink and free n and everything on it; no index bookkeeping. */
void cat_node_destroy(struct cat_db *db, struct cat_node *n);

/* Link rows into the trees; -EEXIST when the key is taken. */
int cat_link_node(struct cat_db *db, struct cat_node *n);
void cat_node_set_id(struct cat_db *db, struct cat_node *n, char *id);
int cat_link_service(struct cat_db *db, struct cat_node *n,
    struct cat_service *s);
void cat_unlink_service(struct cat_db *db, struct cat_service *s);
int cat_link_check(struct cat_node *n, struct cat_check *c);

struct cat_node *cat_node_get_id(const struct cat_db *db, const char *id);
struct cat_name *cat_name_ref(struct cat_db *db, const char *name);
void cat_name_drop(struct cat_db *db, struct cat_name *nm);

#endif
