/* Process titles as ps(1) shows them ("muster: http").  proctitle_init()
 * must run first thing in main(), before anything reads environ. */
#ifndef MUSTER_PROCTITLE_H
#define MUSTER_PROCTITLE_H

void proctitle_init(int argc, char **argv);
void proctitle_set(const char *title);

#endif
