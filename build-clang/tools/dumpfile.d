build-clang/tools/dumpfile.o: tools/dumpfile.c tools/dumpfile.h \
  common/contract.h tools/json.h tools/safefile.h tools/util.h

tools/dumpfile.h:

common/contract.h:

tools/json.h:

tools/safefile.h:

tools/util.h:
