build-clang/tools/cmd_snapshot.o: tools/cmd_snapshot.c common/contract.h \
  tools/dumpfile.h tools/options.h tools/render.h tools/json.h \
  tools/model.h tools/symbolize.h tools/suppress.h tools/safefile.h \
  common/signame.h tools/snapshot.h tools/util.h

common/contract.h:

tools/dumpfile.h:

tools/options.h:

tools/render.h:

tools/json.h:

tools/model.h:

tools/symbolize.h:

tools/suppress.h:

tools/safefile.h:

common/signame.h:

tools/snapshot.h:

tools/util.h:
