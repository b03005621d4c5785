/*
 * The supervisor: owns the configuration, every listening socket, the data
 * directory layout and the workers' lifecycle.  It never parses network
 * input: sockets are bound here and handed to the workers, and a worker's
 * message to the supervisor is decoded as untrusted input.
 */
#ifndef MUSTER_SUP_H
#define MUSTER_SUP_H

#include <ev.h>
#include <sys/types.h>

#include "ipc/ipc.h"
#include "proto/proto.h"

struct agent_config;

struct sup_listener {
	unsigned kind;		/* LISTEN_* */
	char addr[128];		/* "127.0.0.1:8500", "unix:/path" */
	int fd;
};

struct sup;

struct sup_worker {
	struct sup *sup;
	unsigned proc;
	pid_t pid;		/* 0 while not running */
	struct ipc_chan *ch;
	ev_child child;
	ev_timer respawn;
	bool ready, was_ready, pending_respawn;
	uint64_t started_ms;
	unsigned recent_crashes;
	uint64_t crash_window_ms;
	double backoff;
	uint64_t acked_gen;
};

#define FROM_BIT(p) (1u << (p))

struct sup_reload;

struct sup {
	struct ev_loop *loop;
	int argc;
	char **argv;		/* agent arguments, re-read on reload */
	struct agent_config *cfg;
	char *cfg_json;		/* what the workers were sent */
	uint64_t cfg_gen;
	struct sup_listener *ls;
	size_t nls;
	struct sup_worker w[PROC_MAX];
	uint32_t epoch;
	char empty_dir[256];
	bool all_ready_once, stopping;
	int exit_code;
	unsigned stop_reason;	/* SHUTDOWN reason: 1 = leave the pools */
	ev_signal sigterm, sigint, sighup;
	ev_timer stop_timer;
	struct sup_reload *reloads;
};

/* listen.c */
int sup_listen_all(struct sup *s, struct buf *err);
void sup_listen_close_all(struct sup *s);
void sup_listen_cleanup(struct sup *s);
bool sup_listener_for(unsigned proc, unsigned kind);

/* spawn.c */
void sup_workers_start(struct sup *s);
void sup_workers_stop(struct sup *s, unsigned reason);
int sup_send_config(struct sup *s, unsigned proc);
bool sup_worker_is(const struct sup *s, const struct ipc_chan *ch,
    unsigned *proc);

/* dispatch_workers.c */
void sup_dispatch_worker(struct ipc_chan *ch, struct ipc_msg *m, void *arg);
void sup_reload(struct sup *s, struct ipc_chan *ch, const struct ipc_msg *req);
void sup_reload_worker_gone(struct sup *s, unsigned proc);
void sup_config_acked(struct sup *s, unsigned proc,
    const struct proto_config_ack *ack);

/* agent.c */
int sup_agent_main(int argc, char **argv);
void sup_stop(struct sup *s, int exit_code);
void sup_all_ready(struct sup *s);
/* Apply what the supervisor decides for every worker: node id, addresses. */
int sup_finalize_config(struct sup *s, struct agent_config *c,
    struct buf *err);

/* notify.c: sd_notify(3) without libsystemd. */
int sup_notify(const char *state);

#endif
