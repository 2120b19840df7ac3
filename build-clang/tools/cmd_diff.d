build-clang/tools/cmd_diff.o: tools/cmd_diff.c common/contract.h \
  tools/growth.h tools/model.h tools/dumpfile.h tools/symbolize.h \
  tools/json.h tools/options.h tools/render.h tools/suppress.h \
  tools/safefile.h tools/util.h

common/contract.h:

tools/growth.h:

tools/model.h:

tools/dumpfile.h:

tools/symbolize.h:

tools/json.h:

tools/options.h:

tools/render.h:

tools/suppress.h:

tools/safefile.h:

tools/util.h:
