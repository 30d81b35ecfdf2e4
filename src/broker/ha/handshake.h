// Replication handshake: what a master checks in a slave's first SlaveReport before it streams
// a byte or counts an ack, and what a slave reports about its log (docs/replication.md,
// "Handshake").
//
// The master streams to a slave only when its log provably continues the slave's whole log:
//  1. same broker set (brokerName);
//  2. same mappedFileSizeCommitLog: segments, BLANK fillers and offsets are copied byte for
//     byte, so a different size makes the slave's segment ends land mid-record;
//  3. the slave's end S is not past the master's end (a slave ahead holds bytes its master lost;
//     counting its acks would acknowledge messages that exist nowhere else);
//  4. the master still stores S and the slave's last record (the anchor, record_anchor.h), and
//     holds the very same record there (same size and crc32c of every byte), followed by
//     nothing or a BLANK ending at S. This catches two histories that happen to share a record
//     boundary at S, which offsets alone cannot.
// Anything else is refused, never repaired: the slave keeps what it has (docs say why).
// Pure functions over MessageStore reads; thread-safe.
#pragma once

#include <string>

#include "broker/store/record_anchor.h"
#include "mq/v1/ha.pb.h"

namespace mq::store {
class MessageStore;
}

namespace mq::ha {

struct HandshakeVerdict {
  mq::v1::HandshakeStatus status = mq::v1::HANDSHAKE_STATUS_UNSPECIFIED;
  std::string message;  // empty when accepted
  bool accepted() const { return status == mq::v1::HANDSHAKE_ACCEPTED; }
};

// Master: checks `first` (the stream's first report) against the local store.
HandshakeVerdict CheckHandshake(const store::MessageStore& store, const std::string& broker_name,
                                const mq::v1::SlaveReport& first);

// Master: the handshake reply for `verdict` (carried by the stream's first LogChunk).
mq::v1::HandshakeReply MakeHandshakeReply(const store::MessageStore& store, const HandshakeVerdict& verdict);

// Slave: the handshake for a local log of `segment_size`-byte segments whose anchor is `anchor`
// (nullptr for an empty log).
mq::v1::ReplicaHandshake MakeHandshake(int32_t segment_size, const store::RecordAnchor* anchor);

// "SLAVE_AHEAD" for HANDSHAKE_SLAVE_AHEAD, etc.
std::string HandshakeStatusName(mq::v1::HandshakeStatus status);

}  // namespace mq::ha
