// The C++ / PostgreSQL boundary (STYLE.md): read this before calling either side from the other.
//
//  * ROLLUP_FUNCTION(name) defines an SQL-callable C function whose body runs under guard():
//    a C++ exception becomes ereport(ERROR) with its SQLSTATE, raised only after the catch handler
//    has been left and every C++ object of the body has been destroyed.
//  * guard(fn) is the same for hooks and callbacks: `return rollup::pg::guard([&] { ... });`
//  * call(fn) runs PostgreSQL code from C++: an ereport(ERROR) inside fn is caught with PG_TRY,
//    copied, flushed, and thrown as PgError, so C++ destructors run. fn's own frame must hold no
//    C++ object with a destructor (the longjmp skips it): keep it to the PostgreSQL call itself.
//
// Must be included after std headers (it includes pg/pg.hpp).
#pragma once
#include <cstring>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "pg/error.hpp"
#include "pg/pg.hpp"

namespace rollup::pg {

// A POD copy of an error: filling it allocates nothing, so it is safe inside a catch handler, and
// nothing in it needs a destructor when raise() longjmps out of the frame that holds it.
struct ErrorSnapshot {
    int code;
    char message[2048];
    char detail[2048];
    char hint[1024];
    char context[1024];
};

void snapshot(ErrorSnapshot &out, const PgError &e) noexcept;
void snapshot(ErrorSnapshot &out, int code, const char *message) noexcept;
[[noreturn]] void raise(const ErrorSnapshot &err);

// Called in PG_CATCH: leaves the error state and returns a copy of the error (in `cxt`).
ErrorData *capture_error(MemoryContext cxt);
// Turns a captured error into a PgError and throws it.
[[noreturn]] void throw_captured(ErrorData *edata);

template <typename Fn>
auto guard(Fn &&fn) -> decltype(fn()) {
    ErrorSnapshot err;
    try {
        return fn();
    } catch (const PgError &e) {
        snapshot(err, e);
    } catch (const std::bad_alloc &) {
        snapshot(err, ERRCODE_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception &e) {
        snapshot(err, ERRCODE_INTERNAL_ERROR, e.what());
    } catch (...) {
        snapshot(err, ERRCODE_INTERNAL_ERROR, "unknown C++ exception");
    }
    raise(err);
}

template <typename Fn>
auto call(Fn &&fn) -> decltype(fn()) {
    // A C++ exception thrown by fn must not leave the PG_TRY body: PG_END_TRY would be skipped and
    // PG_exception_stack would keep pointing at this dead frame. It is caught inside the body and
    // rethrown once the PostgreSQL error context is restored.
    using R = decltype(fn());
    MemoryContext oldcxt = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;
    std::exception_ptr cpp_error;
    std::exception_ptr *volatile cpp_out = &cpp_error;
    if constexpr (std::is_void_v<R>) {
        PG_TRY();
        {
            try {
                fn();
            } catch (...) {
                *cpp_out = std::current_exception();
            }
        }
        PG_CATCH();
        { edata = capture_error(oldcxt); }
        PG_END_TRY();
        if (edata) throw_captured(edata);
        if (cpp_error) std::rethrow_exception(cpp_error);
    } else {
        R result{};
        R *volatile out = &result;  // lives in memory, not in a register clobbered by longjmp
        PG_TRY();
        {
            try {
                *out = fn();
            } catch (...) {
                *cpp_out = std::current_exception();
            }
        }
        PG_CATCH();
        { edata = capture_error(oldcxt); }
        PG_END_TRY();
        if (edata) throw_captured(edata);
        if (cpp_error) std::rethrow_exception(cpp_error);
        return result;
    }
}

[[noreturn]] void throw_error(int code, const std::string &message, const std::string &detail = {},
                              const std::string &hint = {});

}  // namespace rollup::pg

// An SQL-callable function: `ROLLUP_FUNCTION(rollup_add_node) { ...; return Int32GetDatum(id); }`
#define ROLLUP_FUNCTION(name)                                                                 \
    static Datum name##_body(FunctionCallInfo fcinfo);                                        \
    extern "C" {                                                                              \
    PG_FUNCTION_INFO_V1(name);                                                                \
    }                                                                                         \
    extern "C" Datum name(PG_FUNCTION_ARGS) {                                                 \
        return rollup::pg::guard([&]() -> Datum { return name##_body(fcinfo); });             \
    }                                                                                         \
    static Datum name##_body(FunctionCallInfo fcinfo)
