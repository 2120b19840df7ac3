/* The watch plot (plot.h): hand-written SVG, because the picture is a handful of polylines
 * and a plotting library would be a dependency of a command that runs as root. Every string
 * from a dump goes through the report's escaping (no control characters) and then XML's. */
#include "plot.h"

#include "report_text.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define W 960
#define H 540
#define ML 80 /* margins: left, right, top, bottom (legend below) */
#define MR 40
#define MT 50
#define MB 70
#define LEGEND_ROW 20

static const char *const fdt_colors[] = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e",
                                         "#9467bd", "#8c564b", "#e377c2", "#17becf"};

static void fdt_xml_sink(void *arg, const char *s, size_t n)
{
    FILE *f = arg;
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(s[i], f);
        }
    }
}

static void fdt_xml(FILE *f, const char *s)
{
    fdc_report_escape(s ? s : "", fdt_xml_sink, f);
}

/* A round step giving about `want` ticks over range. */
static double fdt_step(double range, int want)
{
    double raw = range / want, p = pow(10, floor(log10(raw > 0 ? raw : 1))), m = raw / p;
    return p * (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10);
}

int fdt_plot_write(const char *path, const struct fdt_plot *p)
{
    FILE *f = fopen(path, "we");
    if (!f) {
        fdt_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(path);
    bool html = n > 5 && !strcmp(path + n - 5, ".html");
    int h = H + (int)(p->nseries + 2) * LEGEND_ROW;
    double xmax = p->n ? p->x[p->n - 1] : 1, ymax = 1;
    if (xmax <= 0)
        xmax = 1;
    for (size_t i = 0; i < p->n; i++) {
        if (p->total[i] > ymax)
            ymax = (double)p->total[i];
        for (size_t s = 0; s < p->nseries; s++)
            if (p->series[s].y[i] > ymax)
                ymax = (double)p->series[s].y[i];
    }
    /* The limit is drawn on scale unless it is far above the data, which would flatten
     * every line against the axis: then it is named at the top, off scale. */
    bool limit_on_scale = p->limit > 0 && (double)p->limit <= ymax * 5;
    if (limit_on_scale && (double)p->limit > ymax)
        ymax = (double)p->limit;
    ymax *= 1.1;
    double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + (v) / xmax * pw)
#define PY(v) (MT + ph - (v) / ymax * ph)
    if (html)
        fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", f),
            fdt_xml(f, p->title),
            fputs("</title></head>\n<body style=\"font-family: sans-serif\">\n", f);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, h, W, h);
    fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\">", ML);
    fdt_xml(f, p->title);
    fputs("</text>\n", f);
    /* grid and ticks */
    double ys = fdt_step(ymax, 6), xs = fdt_step(xmax, 8);
    for (double v = 0; v <= ymax; v += ys)
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n",
                ML, W - MR, PY(v), PY(v), ML - 6, PY(v) + 4, v);
    for (double v = 0; v <= xmax + xs / 1000; v += xs)
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#eee\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                PX(v), PX(v), MT, H - MB, PX(v), H - MB + 18, v);
    fprintf(f,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>"
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
            ML, W - MR, H - MB, H - MB, ML, ML, MT, H - MB);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">seconds since the first "
            "snapshot</text>\n",
            ML + pw / 2, H - MB + 40);
    fprintf(f,
            "<text transform=\"translate(22 %.1f) rotate(-90)\" text-anchor=\"middle\">open "
            "descriptors</text>\n",
            MT + ph / 2);
    if (limit_on_scale)
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"black\" "
                "stroke-dasharray=\"8 4\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">limit "
                "%ld (RLIMIT_NOFILE)</text>\n",
                ML, W - MR, PY((double)p->limit), PY((double)p->limit), W - MR - 4,
                PY((double)p->limit) - 6, p->limit);
    else if (p->limit > 0)
        fprintf(f,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">limit %ld (RLIMIT_NOFILE): "
                "far above, off scale</text>\n",
                W - MR, MT - 8, p->limit);
    /* lines: the total, then the groups */
    for (size_t s = 0; s <= p->nseries; s++) {
        const long *y = s ? p->series[s - 1].y : p->total;
        const char *color = s ? fdt_colors[(s - 1) % 8] : "black";
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"", color,
                s ? "2" : "3");
        for (size_t i = 0; i < p->n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", PX(p->x[i]), PY((double)y[i]));
        fputs("\"/>\n", f);
        for (size_t i = 0; i < p->n; i++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", PX(p->x[i]),
                    PY((double)y[i]), color);
        fputc('\n', f);
        int ly = H + (int)s * LEGEND_ROW;
        fprintf(f,
                "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
                "<text x=\"%d\" y=\"%d\">",
                ML, ML + 24, ly - 4, ly - 4, color, ML + 32, ly);
        if (s)
            fdt_xml(f, p->series[s - 1].label);
        else
            fputs("all open descriptors of the process", f);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    if (html)
        fputs("</body></html>\n", f);
#undef PX
#undef PY
    if (fclose(f) != 0) {
        fdt_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
