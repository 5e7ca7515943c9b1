// PgError: the one C++ exception type that carries a PostgreSQL error across C++ frames.
// Pure C++ (no PostgreSQL headers), so any file may include it before postgres.h.
#pragma once
#include <stdexcept>
#include <string>

namespace rollup {

// SQLSTATE packed the way PostgreSQL's MAKE_SQLSTATE does (6 bits per character).
constexpr int make_sqlstate(const char (&s)[6]) {
    return ((s[0] - '0') & 0x3F) | (((s[1] - '0') & 0x3F) << 6) | (((s[2] - '0') & 0x3F) << 12) |
           (((s[3] - '0') & 0x3F) << 18) | (((s[4] - '0') & 0x3F) << 24);
}

namespace sqlstate {
constexpr int internal_error = make_sqlstate("XX000");
constexpr int invalid_parameter_value = make_sqlstate("22023");
constexpr int undefined_column = make_sqlstate("42703");
constexpr int undefined_table = make_sqlstate("42P01");
constexpr int undefined_object = make_sqlstate("42704");
constexpr int duplicate_object = make_sqlstate("42710");
constexpr int wrong_object_type = make_sqlstate("42809");
constexpr int feature_not_supported = make_sqlstate("0A000");
constexpr int insufficient_privilege = make_sqlstate("42501");
constexpr int object_not_in_prerequisite_state = make_sqlstate("55000");
constexpr int object_in_use = make_sqlstate("55006");
constexpr int connection_failure = make_sqlstate("08006");
constexpr int connection_exception = make_sqlstate("08000");
constexpr int undefined_function = make_sqlstate("42883");
constexpr int invalid_table_definition = make_sqlstate("42P16");
constexpr int not_null_violation = make_sqlstate("23502");
constexpr int invalid_text_representation = make_sqlstate("22P02");
constexpr int syntax_error = make_sqlstate("42601");
constexpr int datatype_mismatch = make_sqlstate("42804");
constexpr int query_canceled = make_sqlstate("57014");
constexpr int config_file_error = make_sqlstate("F0000");
constexpr int dependent_objects_still_exist = make_sqlstate("2BP01");
constexpr int program_limit_exceeded = make_sqlstate("54000");
}  // namespace sqlstate

class PgError : public std::runtime_error {
public:
    PgError(int code, std::string message, std::string detail = {}, std::string hint = {},
            std::string context = {})
        : std::runtime_error(message), code_(code), message_(std::move(message)),
          detail_(std::move(detail)), hint_(std::move(hint)), context_(std::move(context)) {}

    int code() const noexcept { return code_; }
    const std::string &message() const noexcept { return message_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }
    const std::string &context() const noexcept { return context_; }

private:
    int code_;
    std::string message_, detail_, hint_, context_;
};

}  // namespace rollup
