/*
 * A client agent's catalog feed for the DNS read model (dns_model.h).
 * A client runs no Raft and holds no catalog; its store forwards reads
 * to a server (rpc_forward).  So the dns worker watches the catalog the
 * way a Consul watch would: three stale blocking reads through the
 * store - /catalog/nodes, every service instance, /health/state/any -
 * each re-issued with the index it got, and rebuilds the model from the
 * three latest answers.  Every change costs whole tables: fine for the
 * modest catalogs clients serve DNS for; servers get deltas instead.
 */
#ifndef MUSTER_DNS_PULL_H
#define MUSTER_DNS_PULL_H

struct worker;
struct dns_model;
struct dns_pull;

struct dns_pull *dns_pull_new(struct worker *w, struct dns_model *m);
/* The store channel is up: (re)issue the reads not in flight. */
void dns_pull_start(struct dns_pull *p);
void dns_pull_free(struct dns_pull *p);

#endif
