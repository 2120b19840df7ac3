build-clang/tools/safefile.o: tools/safefile.c tools/safefile.h \
  tools/dumpfile.h common/contract.h tools/util.h

tools/safefile.h:

tools/dumpfile.h:

common/contract.h:

tools/util.h:
