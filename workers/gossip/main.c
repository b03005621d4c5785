/* placeholder until the worker framework lands */
int gossip_main(int argc, char **argv);
int gossip_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }
