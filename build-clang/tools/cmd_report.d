build-clang/tools/cmd_report.o: tools/cmd_report.c tools/dumpfile.h \
  common/contract.h tools/options.h tools/render.h tools/json.h \
  tools/model.h tools/symbolize.h tools/suppress.h tools/util.h

tools/dumpfile.h:

common/contract.h:

tools/options.h:

tools/render.h:

tools/json.h:

tools/model.h:

tools/symbolize.h:

tools/suppress.h:

tools/util.h:
