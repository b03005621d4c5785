/*
 * The dns worker's change stream (store_dnsfeed.c; the messages are
 * proto/schema_dns.h).  On a server every applied catalog write is pushed
 * to the dns worker as the current rows of the nodes it touched; a
 * DNS_SYNC_REQ from the dns worker gets a full sync first.  A client
 * agent holds no catalog: its dns worker pulls from a server through
 * blocking reads instead (workers/dns/dns_pull.c).
 */
#ifndef MUSTER_STORE_DNSFEED_H
#define MUSTER_STORE_DNSFEED_H

struct store;
struct worker;
struct ipc_chan;
struct ipc_msg;

/* Subscribe to the catalog (servers only; a no-op on a client). */
int store_dnsfeed_init(struct store *st);
/* main.c: DNS_SYNC_REQ from the dns worker. */
void store_on_dns_sync(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m);

#endif
