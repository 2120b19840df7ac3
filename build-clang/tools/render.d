build-clang/tools/render.o: tools/render.c tools/render.h tools/json.h \
  tools/model.h tools/dumpfile.h common/contract.h tools/symbolize.h \
  common/report_text.h tools/suppress.h tools/util.h

tools/render.h:

tools/json.h:

tools/model.h:

tools/dumpfile.h:

common/contract.h:

tools/symbolize.h:

common/report_text.h:

tools/suppress.h:

tools/util.h:
