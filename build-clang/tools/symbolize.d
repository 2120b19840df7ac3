build-clang/tools/symbolize.o: tools/symbolize.c tools/symbolize.h \
  tools/dumpfile.h common/contract.h tools/util.h

tools/symbolize.h:

tools/dumpfile.h:

common/contract.h:

tools/util.h:
