/* placeholder until the worker framework lands */
int http_main(int argc, char **argv);
int http_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }
