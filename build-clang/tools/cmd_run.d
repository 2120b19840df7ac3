build-clang/tools/cmd_run.o: tools/cmd_run.c common/contract.h \
  tools/dumpfile.h tools/options.h tools/render.h tools/json.h \
  tools/model.h tools/symbolize.h tools/suppress.h tools/safefile.h \
  tools/util.h

common/contract.h:

tools/dumpfile.h:

tools/options.h:

tools/render.h:

tools/json.h:

tools/model.h:

tools/symbolize.h:

tools/suppress.h:

tools/safefile.h:

tools/util.h:
