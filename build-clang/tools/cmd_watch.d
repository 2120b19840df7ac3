build-clang/tools/cmd_watch.o: tools/cmd_watch.c common/contract.h \
  tools/growth.h tools/model.h tools/dumpfile.h tools/symbolize.h \
  tools/json.h tools/options.h tools/render.h tools/suppress.h \
  tools/plot.h tools/safefile.h tools/snapshot.h tools/util.h

common/contract.h:

tools/growth.h:

tools/model.h:

tools/dumpfile.h:

tools/symbolize.h:

tools/json.h:

tools/options.h:

tools/render.h:

tools/suppress.h:

tools/plot.h:

tools/safefile.h:

tools/snapshot.h:

tools/util.h:
