build-clang/tools/options.o: tools/options.c tools/options.h \
  tools/render.h tools/json.h tools/model.h tools/dumpfile.h \
  common/contract.h tools/symbolize.h tools/suppress.h tools/flame.h \
  tools/safefile.h common/signame.h tools/util.h

tools/options.h:

tools/render.h:

tools/json.h:

tools/model.h:

tools/dumpfile.h:

common/contract.h:

tools/symbolize.h:

tools/suppress.h:

tools/flame.h:

tools/safefile.h:

common/signame.h:

tools/util.h:
