#include <cstdio>
#include <cstring>
#include <string>

#include "pg/guard.hpp"

namespace rollup::pg {

static void copy_text(char *dst, size_t size, const char *src) noexcept {
    if (!src) {
        dst[0] = '\0';
        return;
    }
    size_t n = std::strlen(src);
    if (n >= size) n = size - 1;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

void snapshot(ErrorSnapshot &out, const PgError &e) noexcept {
    out.code = e.code() ? e.code() : ERRCODE_INTERNAL_ERROR;
    copy_text(out.message, sizeof out.message, e.message().c_str());
    copy_text(out.detail, sizeof out.detail, e.detail().c_str());
    copy_text(out.hint, sizeof out.hint, e.hint().c_str());
    copy_text(out.context, sizeof out.context, e.context().c_str());
}

void snapshot(ErrorSnapshot &out, int code, const char *message) noexcept {
    out.code = code;
    copy_text(out.message, sizeof out.message, message);
    out.detail[0] = out.hint[0] = out.context[0] = '\0';
}

void raise(const ErrorSnapshot &err) {
    ereport(ERROR, (errcode(err.code), errmsg_internal("%s", err.message),
                    err.detail[0] ? errdetail_internal("%s", err.detail) : 0,
                    err.hint[0] ? errhint("%s", err.hint) : 0,
                    err.context[0] ? errcontext("%s", err.context) : 0));
    pg_unreachable();
}

ErrorData *capture_error(MemoryContext cxt) {
    MemoryContextSwitchTo(cxt);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    return edata;
}

void throw_captured(ErrorData *edata) {
    PgError err(edata->sqlerrcode, edata->message ? edata->message : "",
                edata->detail ? edata->detail : "", edata->hint ? edata->hint : "",
                edata->context ? edata->context : "");
    FreeErrorData(edata);
    throw err;
}

void throw_error(int code, const std::string &message, const std::string &detail,
                 const std::string &hint) {
    throw PgError(code, message, detail, hint);
}

}  // namespace rollup::pg
