/* placeholder until the worker framework lands */
int store_main(int argc, char **argv);
int store_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }
