build-clang/tools/suppress.o: tools/suppress.c tools/suppress.h \
  tools/model.h tools/dumpfile.h common/contract.h tools/symbolize.h \
  tools/safefile.h common/utf8.h tools/util.h

tools/suppress.h:

tools/model.h:

tools/dumpfile.h:

common/contract.h:

tools/symbolize.h:

tools/safefile.h:

common/utf8.h:

tools/util.h:
