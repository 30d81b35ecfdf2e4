// The check-back scan's positions in <storePathRootDir>/config/transactionProgress
// ("halfOffset=N\nopOffset=N\n"): the half and op queue offsets the scan resumes from. The
// master's TransactionalMessageService writes it; a slave takes the master's through the
// metadata sync, so a promoted slave resumes about where the master was. Stateless functions;
// the file is replaced atomically.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace mq::broker {

struct TransactionPositions {
  int64_t half_offset = 0;
  int64_t op_offset = 0;
  bool operator==(const TransactionPositions&) const = default;
};

// NotFound when the file does not exist; Corruption naming the file when it is not two
// non-negative numbers under those keys.
Result<TransactionPositions> ReadTransactionProgress(const std::string& path);
Status WriteTransactionProgress(const std::string& path, const TransactionPositions& positions);

}  // namespace mq::broker
