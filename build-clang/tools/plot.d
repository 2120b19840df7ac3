build-clang/tools/plot.o: tools/plot.c tools/plot.h common/report_text.h \
  tools/util.h

tools/plot.h:

common/report_text.h:

tools/util.h:
