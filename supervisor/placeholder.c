int sup_placeholder(void); int sup_placeholder(void) { return 0; }
