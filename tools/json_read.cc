// Reading JSON with simdjson (the DOM API, error codes only: no exception leaves this file).
// The document is parsed into a simdjson::dom::document, then copied into the small tree of
// struct fdt_jval that the rest of fdleak walks (json.h). Strings are not copied: they point
// into the document's string buffer, NUL-terminated there, which lives as long as the fdt_jdoc.
//
// simdjson's DOM parser says what went wrong but not where. On failure (only then) the input
// is walked again with simdjson's On-Demand API, which can tell where it stands, to turn the
// error into a line and column, or into "truncated" when the input ended before the value did.
//
// simdjson 3.0's DOM refuses integers beyond 64 bits and numbers beyond a double's range
// (NUMBER_ERROR) and has no option to read them otherwise. JSON allows them, and a reader must
// ignore keys it does not know whatever they hold, so on NUMBER_ERROR such numbers are rewritten
// in a copy of the input to markers of no greater width (fdt_widen) and the copy is parsed
// again; a big integer's marker reads back as an integer with overflow set. The tree is capped at
// FDT_JSON_MAX_VALUES values.
#include "json.h"

extern "C" {
#include "util.h"
}

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <cctype>
#include <cstring>
#include <string>
#include <exception>
#include <memory>
#include <new>
#include <string_view>

namespace
{

namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;
using simdjson::error_code;

// Containers nested deeper than this are refused ("nested too deeply"): the tree is built
// recursively, and no dump nests deeper than 5.
constexpr size_t kMaxDepth = 64;
constexpr size_t kChunkVals = 8192;
// What an integer beyond 64 bits becomes (fdt_widen): at most 15 characters, and such an
// integer has at least 20. fdt_build reads this exact double back as an overflowing integer.
constexpr char kBigPos[] = "9.87654321e299", kBigNeg[] = "-9.87654321e299";
constexpr double kBigVal = 9.87654321e299;

struct chunk {
    chunk *prev;
    size_t used;
    fdt_jval vals[kChunkVals];
};

} // namespace

// Raw dumps (docs/dump-format.md) write a byte that is not part of well-formed UTF-8 as the
// escape \u0080..\u00ff, and never a character that way: FDT_JSON_BYTES reads those escapes
// back as bytes. simdjson decodes escapes to UTF-8, so before parsing they are rewritten in
// place (same length) to \uF780..\uF7FF, private-use code points, and turned into bytes when
// a string is taken out of the document. A document that holds those code points itself (as
// raw UTF-8) is read without the mapping: nothing is ever read as a byte that was not one.
static bool fdt_is_byte_marker(const char *p)
{
    return static_cast<unsigned char>(p[0]) == 0xef &&
           (static_cast<unsigned char>(p[1]) == 0x9e || static_cast<unsigned char>(p[1]) == 0x9f) &&
           (static_cast<unsigned char>(p[2]) & 0xc0) == 0x80;
}

static bool fdt_has_byte_marker(std::string_view s)
{
    for (size_t i = 0; i + 2 < s.size(); i++)
        if (fdt_is_byte_marker(s.data() + i))
            return true;
    return false;
}

// Rewrites \u00XY (XY >= 0x80, a real escape: an odd run of backslashes before the u) to
// \uF7XY in buf. Returns false (buf untouched) if buf holds a raw U+F780..U+F7FF already.
static bool fdt_mark_bytes(char *buf, size_t len)
{
    if (fdt_has_byte_marker(std::string_view(buf, len)))
        return false;
    for (size_t i = 0; i + 5 < len; i++) {
        if (buf[i] != '\\' || buf[i + 1] != 'u' || buf[i + 2] != '0' || buf[i + 3] != '0' ||
            !std::strchr("89abcdefABCDEF", buf[i + 4]) || !buf[i + 4] ||
            !std::isxdigit(static_cast<unsigned char>(buf[i + 5])))
            continue;
        size_t run = 0;
        while (run <= i && buf[i - run] == '\\')
            run++;
        if (run % 2 == 0)
            continue; // an escaped backslash followed by the letter u
        buf[i + 2] = 'F';
        buf[i + 3] = '7';
        i += 5;
    }
    return true;
}

struct fdt_jdoc {
    dom::document doc;       // tape and strings; fdt_jval strings point into doc's buffer
    chunk *chunks = nullptr; // fdt_jval nodes
    char **copies = nullptr; // strings rewritten because they held U+0000 (see fdt_cstr)
    size_t ncopies = 0;
    fdt_jval *root = nullptr;
    size_t nvals = 0;
    bool bytes = false; // FDT_JSON_BYTES: U+F780..U+F7FF in strings stand for bytes 0x80..0xff

    ~fdt_jdoc()
    {
        for (chunk *c = chunks, *prev; c; c = prev) {
            prev = c->prev;
            free(c);
        }
        for (size_t i = 0; i < ncopies; i++)
            free(copies[i]);
        free(copies);
    }

    // A new zeroed node, or NULL once the document holds FDT_JSON_MAX_VALUES.
    fdt_jval *node()
    {
        if (nvals >= FDT_JSON_MAX_VALUES)
            return nullptr;
        nvals++;
        if (!chunks || chunks->used == kChunkVals) {
            chunk *c = static_cast<chunk *>(fdt_xmalloc(sizeof(chunk)));
            c->prev = chunks;
            c->used = 0;
            chunks = c;
        }
        fdt_jval *v = &chunks->vals[chunks->used++];
        std::memset(static_cast<void *>(v), 0, sizeof *v);
        return v;
    }

    // A NUL-terminated string for callers. simdjson's strings are NUL-terminated in the
    // document's buffer, but may hold U+0000 themselves (escaped as \u0000): that would cut
    // the C string short, so such a string is copied with U+FFFD in place of each NUL.
    const char *cstr(std::string_view s)
    {
        bool marked = bytes && fdt_has_byte_marker(s);
        if (!marked && !std::memchr(s.data(), 0, s.size()))
            return s.data();
        char *o = static_cast<char *>(fdt_xmalloc(s.size() * 3 + 1)), *p = o;
        for (size_t i = 0; i < s.size(); i++) {
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (marked && c == 0xef && i + 2 < s.size() && fdt_is_byte_marker(&s[i])) {
                // U+F780..U+F7FF (EF 9E|9F xx): the byte 0x80..0xff the dump escaped
                *p++ = static_cast<char>(0x80 | ((s[i + 1] & 1) << 6) | (s[i + 2] & 0x3f));
                i += 2;
            } else if (c) {
                *p++ = s[i];
            } else {
                *p++ = '\xef';
                *p++ = '\xbf';
                *p++ = '\xbd';
            }
        }
        *p = 0;
        copies = static_cast<char **>(fdt_xrealloc(copies, (ncopies + 1) * sizeof *copies));
        copies[ncopies++] = o;
        return o;
    }
};

namespace
{

// Fills v from e; depth is bounded by the parser's max_depth. Only simdjson's error-code
// accessors are used (the conversion operators throw); the type is checked before each.
// False when the tree would exceed FDT_JSON_MAX_VALUES.
bool fdt_build(fdt_jdoc *d, dom::element e, fdt_jval *v)
{
    switch (e.type()) {
    case dom::element_type::ARRAY: {
        dom::array a;
        v->type = FDT_J_ARR;
        if (e.get_array().get(a))
            break;
        fdt_jval **tail = &v->u.kids;
        for (dom::element kid : a) {
            fdt_jval *k = d->node();
            if (!k || !fdt_build(d, kid, k))
                return false;
            *tail = k;
            tail = &k->next;
            v->n++;
        }
        break;
    }
    case dom::element_type::OBJECT: {
        dom::object o;
        v->type = FDT_J_OBJ;
        if (e.get_object().get(o))
            break;
        fdt_jval **tail = &v->u.kids;
        for (dom::key_value_pair kv : o) {
            fdt_jval *k = d->node();
            if (!k)
                return false;
            k->key = d->cstr(kv.key);
            if (!fdt_build(d, kv.value, k))
                return false;
            *tail = k;
            tail = &k->next;
            v->n++;
        }
        break;
    }
    case dom::element_type::INT64: {
        int64_t i = 0;
        v->type = FDT_J_NUM;
        v->is_int = true;
        v->u.i = e.get_int64().get(i) ? 0 : i;
        break;
    }
    case dom::element_type::UINT64: // above INT64_MAX: saturated, as strtoll would
        v->type = FDT_J_NUM;
        v->is_int = true;
        v->overflow = true;
        v->u.i = INT64_MAX;
        break;
    case dom::element_type::DOUBLE: {
        double x = 0;
        if (e.get_double().get(x))
            x = 0;
        v->type = FDT_J_NUM;
        v->is_int = false;
        v->u.i = x != x ? 0 : x >= 9.2e18 ? INT64_MAX : x <= -9.2e18 ? INT64_MIN : int64_t(x);
        if (x == kBigVal || x == -kBigVal) { // an integer beyond 64 bits (fdt_widen)
            v->is_int = true;
            v->overflow = true;
        }
        break;
    }
    case dom::element_type::STRING: {
        std::string_view str;
        v->type = FDT_J_STR;
        v->u.s = e.get_string().get(str) ? "" : d->cstr(str);
        break;
    }
    case dom::element_type::BOOL: {
        bool b = false;
        v->type = !e.get_bool().get(b) && b ? FDT_J_TRUE : FDT_J_FALSE;
        break;
    }
    case dom::element_type::NULL_VALUE:
        v->type = FDT_J_NULL;
        break;
    }
    return true;
}

// True if digits (ASCII, no sign) is an integer beyond what simdjson reads: above UINT64_MAX,
// or when negative, below INT64_MIN.
bool fdt_too_big(const char *digits, size_t n, bool negative)
{
    const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
    size_t ln = std::strlen(limit);
    return n > ln || (n == ln && std::memcmp(digits, limit, n) > 0);
}

// True if p[0..n) is a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool fdt_is_number(const char *p, size_t n)
{
    size_t i = 0;
    auto digits = [&]() {
        size_t k = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        return i > k;
    };
    if (i < n && p[i] == '-')
        i++;
    if (i < n && p[i] == '0')
        i++;
    else if (!digits())
        return false;
    if (i < n && p[i] == '.') {
        i++;
        if (!digits())
            return false;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (!digits())
            return false;
    }
    return i == n;
}

// Rewrites, in buf, each number token outside strings that simdjson's DOM refuses although it
// is JSON: an integer beyond 64 bits becomes kBigPos or kBigNeg, a number too large for a
// double "0e0" (a non-integer), padded with spaces so that offsets, lines and columns do not
// move. Returns how many.
size_t fdt_widen(char *buf, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        char c = buf[i];
        if (c == '"') {
            for (i++; i < len && buf[i] != '"'; i++)
                if (buf[i] == '\\')
                    i++;
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < len && buf[j] && std::strchr("0123456789+-.eE", buf[j]))
            j++;
        bool neg = c == '-';
        size_t start = i + neg, n = j - start;
        const char *mark = nullptr;
        if (fdt_is_number(buf + i, j - i)) {
            bool integer = std::strspn(buf + start, "0123456789") >= n;
            if (integer && fdt_too_big(buf + start, n, neg)) {
                mark = neg ? kBigNeg : kBigPos;
            } else if (!integer) {
                std::string tok(buf + i, j - i);
                if (std::isinf(std::strtod(tok.c_str(), nullptr)))
                    mark = "0e0";
            }
        }
        if (mark) {
            size_t m = std::strlen(mark);
            std::memcpy(buf + i, mark, m);
            std::memset(buf + i + m, ' ', j - i - m);
            count++;
        }
        i = j;
    }
    return count;
}

// ------------------------------------------------------------------ locating a parse error

// Where the walk stopped: at (a byte of the walked copy) or, when at is NULL and found is
// set, at the end of the input.
struct fdt_where {
    const char *base; // the walked copy of the input
    const char *orig; // the input itself (the copy may have been sanitized, see below)
    od::document *doc;
    bool check_raw; // the copy was sanitized: check strings' raw bytes in the input
    bool found = false;
    const char *at = nullptr;
    bool too_deep = false;

    bool stop(const char *p)
    {
        found = true;
        at = p;
        return false;
    }
    // Stops at the iterator's position (NULL: out of bounds, i.e. the input ended).
    bool stop_here()
    {
        const char *p = nullptr;
        if (doc->current_location().get(p) != simdjson::SUCCESS)
            p = nullptr;
        return stop(p);
    }
    // Checks the raw bytes of a string in the input (stage 1 of simdjson rejects unescaped
    // control characters and invalid UTF-8 without saying where; see fdt_locate).
    bool raw_ok(const char *p, size_t n)
    {
        if (!check_raw)
            return true;
        const char *o = orig + (p - base);
        for (size_t i = 0; i < n; i++)
            if (static_cast<unsigned char>(o[i]) < 0x20)
                return stop(p + i);
        if (!simdjson::validate_utf8(o, n))
            return stop(p);
        return true;
    }
};

bool fdt_walk(fdt_where &w, od::value v, size_t depth)
{
    std::string_view tok = v.raw_json_token();
    const char *at = tok.data();
    od::json_type t;
    if (v.type().get(t))
        return at ? w.stop(at) : w.stop_here();
    switch (t) {
    case od::json_type::array: {
        if (depth >= kMaxDepth) {
            w.too_deep = true;
            return w.stop(at);
        }
        od::array a;
        if (v.get_array().get(a))
            return w.stop_here();
        for (auto r : a) {
            od::value kid;
            if (std::move(r).get(kid))
                return w.stop_here();
            if (!fdt_walk(w, kid, depth + 1))
                return false;
        }
        return true;
    }
    case od::json_type::object: {
        if (depth >= kMaxDepth) {
            w.too_deep = true;
            return w.stop(at);
        }
        od::object o;
        if (v.get_object().get(o))
            return w.stop_here();
        for (auto r : o) {
            od::field f;
            if (std::move(r).get(f))
                return w.stop_here();
            // The key's raw text: from after its opening quote to the last quote before the
            // ':' that precedes the value (read before unescaped_key(), which consumes it).
            const char *k = f.key().raw(), *e = f.value().raw_json_token().data();
            std::string_view key;
            if (f.unescaped_key().get(key))
                return w.stop(k - 1);
            while (e > k && e[-1] != ':')
                e--;
            while (e > k && e[-1] != '"')
                e--;
            if (e > k && !w.raw_ok(k, size_t(e - 1 - k)))
                return false;
            if (!fdt_walk(w, f.value(), depth + 1))
                return false;
        }
        return true;
    }
    case od::json_type::number: {
        od::number n;
        if (v.get_number().get(n))
            return w.stop(at);
        return true;
    }
    case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s))
            return w.stop(at);
        // The token runs to the next structural character: whitespace may follow the quote.
        size_t end = tok.rfind('"');
        return end == std::string_view::npos || end < 1 || w.raw_ok(tok.data() + 1, end - 1);
    }
    case od::json_type::boolean: {
        bool b;
        if (v.get_bool().get(b))
            return w.stop(at);
        return true;
    }
    case od::json_type::null: {
        bool isnull = false;
        if (v.is_null().get(isnull) || !isnull)
            return w.stop(at);
        return true;
    }
    }
    return w.stop(at);
}

// Finds where the input stops being JSON, for an error reported by the DOM parser. Returns
// false if it cannot tell; else *off is the byte offset of the error, or len when the input
// ended before the document did.
bool fdt_locate(const char *buf, size_t len, error_code derr, size_t *off, bool *too_deep)
{
    simdjson::padded_string copy(buf, len);
    if (!copy.data())
        return false;
    if (derr == simdjson::UNESCAPED_CHARS || derr == simdjson::UTF8_ERROR) {
        // Errors of simdjson's first stage, which does not say where they are. Walk a copy in
        // which they cannot occur (control characters become spaces, non-ASCII bytes 'x'),
        // checking every string's original bytes on the way (fdt_where::raw_ok).
        for (size_t i = 0; i < len; i++) {
            unsigned char c = static_cast<unsigned char>(copy.data()[i]);
            if (c < 0x20)
                copy.data()[i] = ' ';
            else if (c >= 0x80)
                copy.data()[i] = 'x';
        }
    }
    od::parser parser;
    od::document doc;
    if (parser.iterate(copy).get(doc))
        return false;
    bool sanitized = derr == simdjson::UNESCAPED_CHARS || derr == simdjson::UTF8_ERROR;
    fdt_where w{copy.data(), buf, &doc, sanitized};
    od::value root;
    if (doc.get_value().get(root)) {
        w.stop_here();
    } else if (fdt_walk(w, root, 0)) {
        const char *p;
        if (doc.current_location().get(p) == simdjson::SUCCESS)
            w.stop(p); // text after the document
    }
    if (!w.found)
        return false;
    *too_deep = w.too_deep;
    *off = w.at ? size_t(w.at - copy.data()) : len;
    if (*off > len)
        *off = len;
    // Nothing but whitespace after the error: the input ended early.
    size_t i = *off;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
        i++;
    if (i == len && !w.too_deep)
        *off = len;
    return true;
}

struct fdt_jdoc *fdt_parse(char *buf, size_t len, int *line, int *col, const char **what,
                           bool *truncated, unsigned flags)
{
    *line = 1;
    *col = 1;
    *what = "invalid JSON";
    *truncated = false;
    std::unique_ptr<fdt_jdoc> d(new fdt_jdoc);
    std::unique_ptr<char, decltype(&free)> widened(nullptr, free), marked(nullptr, free);
    if (flags & FDT_JSON_BYTES) {
        marked.reset(static_cast<char *>(fdt_xmalloc(len + 1)));
        std::memcpy(marked.get(), buf, len);
        marked.get()[len] = 0;
        d->bytes = fdt_mark_bytes(marked.get(), len);
        if (d->bytes)
            buf = marked.get(); // same length: errors are located in it as in the original
    }
    error_code err;
    for (;;) {
        // The parser (stage-1 index and a padded copy of the input) is needed only while
        // parsing: it is gone before the tree is built; the document it filled is kept.
        dom::parser parser;
        err = parser.allocate(len, kMaxDepth);
        if (!err)
            err = parser.parse_into_document(d->doc, buf, len).error();
        if (err != simdjson::NUMBER_ERROR || widened)
            break;
        widened.reset(static_cast<char *>(fdt_xmalloc(len + 1)));
        std::memcpy(widened.get(), buf, len);
        widened.get()[len] = 0;
        if (!fdt_widen(widened.get(), len))
            break;
        buf = widened.get(); // parse the copy; errors are located in it too
    }
    if (!err) {
        d->root = d->node();
        if (!fdt_build(d.get(), d->doc.root(), d->root)) {
            *line = *col = 0; // not a place in the text: the document as a whole
            *what = "too many values (more than " FDT_JSON_MAX_VALUES_TEXT ")";
            return nullptr;
        }
        return d.release();
    }
    d.reset();

    size_t off = 0;
    bool too_deep = false;
    switch (err) {
    case simdjson::EMPTY:
    case simdjson::UNCLOSED_STRING: // a string runs to the end of the input
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
        *truncated = true;
        *what = "premature end of input";
        return nullptr;
    case simdjson::MEMALLOC:
    case simdjson::CAPACITY:
        *what = simdjson::error_message(err);
        return nullptr;
    default:
        break;
    }
    if (!fdt_locate(buf, len, err, &off, &too_deep)) {
        // Not found again (should not happen): point at the start of the text.
        while (off < len &&
               (buf[off] == ' ' || buf[off] == '\n' || buf[off] == '\t' || buf[off] == '\r'))
            off++;
    } else if (off >= len && err != simdjson::DEPTH_ERROR) {
        *truncated = true;
        *what = "premature end of input";
        return nullptr;
    }
    *what = err == simdjson::DEPTH_ERROR || too_deep ? "nested too deeply"
                                                     : simdjson::error_message(err);
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
    return nullptr;
}

} // namespace

extern "C" struct fdt_jdoc *fdt_json_parse(char *buf, size_t len, int *line, int *col,
                                           const char **what, bool *truncated)
{
    return fdt_json_parse_flags(buf, len, line, col, what, truncated, 0);
}

extern "C" struct fdt_jdoc *fdt_json_parse_flags(char *buf, size_t len, int *line, int *col,
                                                 const char **what, bool *truncated, unsigned flags)
{
    try {
        return fdt_parse(buf, len, line, col, what, truncated, flags);
    } catch (const std::bad_alloc &) {
        fdt_msg("out of memory");
        exit(1);
    } catch (...) {
        // simdjson is used through error codes; nothing else here throws.
        *line = 1;
        *col = 1;
        *what = "internal error in the JSON reader";
        *truncated = false;
        return nullptr;
    }
}

extern "C" const struct fdt_jval *fdt_json_root(const struct fdt_jdoc *doc)
{
    return doc->root;
}

extern "C" void fdt_json_free(struct fdt_jdoc *doc)
{
    delete doc;
}

extern "C" const struct fdt_jval *fdt_json_get(const struct fdt_jval *o, const char *key)
{
    if (!o || o->type != FDT_J_OBJ)
        return nullptr;
    for (const fdt_jval *k = o->u.kids; k; k = k->next)
        if (!std::strcmp(k->key, key))
            return k;
    return nullptr;
}

extern "C" const char *fdt_json_str(const struct fdt_jval *v)
{
    return v && v->type == FDT_J_STR ? v->u.s : nullptr;
}

extern "C" bool fdt_json_is_int(const struct fdt_jval *v)
{
    return v && v->type == FDT_J_NUM && v->is_int;
}
