build-clang/tools/main.o: tools/main.c tools/options.h tools/render.h \
  tools/json.h tools/model.h tools/dumpfile.h common/contract.h \
  tools/symbolize.h tools/suppress.h

tools/options.h:

tools/render.h:

tools/json.h:

tools/model.h:

tools/dumpfile.h:

common/contract.h:

tools/symbolize.h:

tools/suppress.h:
