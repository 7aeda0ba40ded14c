// The calculator tool's evaluator: arithmetic on doubles by a recursive-descent parser that knows
// numbers, operators, parentheses and a fixed list of constants and functions, and nothing else
// (no names of its own, no assignment, nothing that runs code). Pure; safe on any thread.
//
//   expression := sum
//   sum        := product (("+" | "-") product)*
//   product    := unary (("*" | "/" | "%") unary)*            % is the remainder (fmod)
//   unary      := ("-" | "+") unary | power                   so -2^2 = -4
//   power      := primary (("^" | "**") unary)?               right-associative: 2^3^2 = 512
//   primary    := number | constant | function "(" sum ("," sum)* ")" | "(" sum ")"
//   number     := digits ["." digits] | "." digits, then optionally e[+-]digits  (1.5e3)
//   constant   := pi | e
//   function   := abs sqrt cbrt exp ln log10 log2 sin cos tan asin acos atan floor ceil (one
//                 argument), log(x[, base]), round(x[, digits]), pow(x, y), min(…), max(…)
// Names are case-insensitive; spaces are ignored between tokens.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace parley::tools {

inline constexpr std::size_t kMaxExpressionLength = 500;
// Parentheses, function calls, unary signs and exponents nested deeper than this are refused.
inline constexpr int kMaxExpressionDepth = 32;

// The value of `expression`. Errors (invalid_request, the message saying what and where): empty or
// longer than kMaxExpressionLength characters, a syntax error ("unexpected 'x' at position 4"),
// an unknown name, a function given the wrong number of arguments, division (or remainder) by
// zero, a math domain error (sqrt of a negative number, log of zero), nesting deeper than
// kMaxExpressionDepth, a result that is not a finite number.
Result<double> evaluate_expression(std::string_view expression);

// A result as JSON number text: integers below 2^53 exactly ("42", never "-0"), anything else
// with 15 significant digits ("0.3" for 0.1 + 0.2, "1e+20").
std::string format_number(double value);

}  // namespace parley::tools
