/* placeholder until the worker framework lands */
int dns_main(int argc, char **argv);
int dns_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }
