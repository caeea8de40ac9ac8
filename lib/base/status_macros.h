// Early-return helpers for absl::Status / absl::StatusOr (Debian's Abseil 20220623 lacks
// status_macros.h).
//
//   absl::Status Load(const std::string& path) {
//     RETURN_IF_ERROR(CheckExists(path));
//     ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//     ...
//   }
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define R1_STATUS_CONCAT_INNER(a, b) a##b
#define R1_STATUS_CONCAT(a, b) R1_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    if (absl::Status r1_status_ = (expr); !r1_status_.ok()) \
      return r1_status_;                                 \
  } while (0)

#define R1_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  R1_ASSIGN_OR_RETURN_IMPL(R1_STATUS_CONCAT(r1_statusor_, __LINE__), lhs, expr)
