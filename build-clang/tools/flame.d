build-clang/tools/flame.o: tools/flame.c tools/flame.h tools/model.h \
  tools/dumpfile.h common/contract.h tools/symbolize.h \
  common/report_text.h tools/util.h

tools/flame.h:

tools/model.h:

tools/dumpfile.h:

common/contract.h:

tools/symbolize.h:

common/report_text.h:

tools/util.h:
