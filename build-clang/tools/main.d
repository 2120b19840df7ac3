build-clang/tools/main.o: tools/main.c common/contract.h tools/dumpfile.h \
  common/signame.h tools/render.h tools/json.h tools/symbolize.h \
  tools/util.h

common/contract.h:

tools/dumpfile.h:

common/signame.h:

tools/render.h:

tools/json.h:

tools/symbolize.h:

tools/util.h:
