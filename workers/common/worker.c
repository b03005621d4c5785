int worker_common_placeholder(void); int worker_common_placeholder(void) { return 0; }
