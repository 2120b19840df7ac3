build-clang/tools/render.o: tools/render.c tools/render.h \
  tools/dumpfile.h common/contract.h tools/json.h tools/symbolize.h \
  common/signame.h tools/util.h

tools/render.h:

tools/dumpfile.h:

common/contract.h:

tools/json.h:

tools/symbolize.h:

common/signame.h:

tools/util.h:
