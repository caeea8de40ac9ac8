// MathVerifierOptions: the caps that bound the work of verifying one math answer, and the
// tolerances of its comparisons. Every field can change a score (caps only at the edges: an
// answer too long or too large to judge), so the reward service folds them all into its
// configuration hash.
#pragma once

#include <cstddef>
#include <cstdint>

namespace r1serve::verify {

struct MathVerifierOptions {
  // Bytes of the answer (the text after the last "</think>") scanned, counted from its end.
  size_t max_tail_bytes = 32 * 1024;
  // Longest final answer or reference, in bytes; a longer one is not parsed.
  size_t max_answer_bytes = 2048;
  // Deepest recursion of the answer and expression parsers: about two levels per bracket,
  // fraction or function, one per unary sign or power.
  int max_expression_depth = 100;
  // Largest |n| of an integer power x^n computed exactly.
  int64_t max_exponent = 10000;
  // Largest n of n! (and of binomials) computed exactly.
  int64_t max_factorial = 10000;
  // Largest exact number, in bits of numerator plus denominator.
  int64_t max_exact_bits = 1 << 17;
  // Most terms of a polynomial in an exact form before falling back to numeric comparison.
  int max_polynomial_terms = 512;
  // Most "\pm" signs expanded in one answer (each doubles the number of alternatives).
  int max_plus_minus = 3;
  // Random points at which expressions with variables and no symbolic exact form are compared
  // (exactly at rational points where possible, else in complex doubles).
  int numeric_points = 6;
  // Relative tolerance of numeric comparison.
  double relative_tolerance = 1e-8;
  // A decimal (0.333) matches a fraction (1/3) it rounds when it has at least this many
  // significant digits; 0 disables rounding matches.
  int min_rounding_significant_digits = 3;
};

}  // namespace r1serve::verify
