// EncodedRecordBytes(const ViewChange&): a view change's entry measured by the codec's own record
// encoding (codec.h), for hosts and harnesses that weigh what a repair had to move.
#include "codec.h"
#include "pbxstate/engine.h"

namespace pbxstate {

std::size_t EncodedRecordBytes(const ViewChange& change) {
  codec::Record r;
  r.kind = static_cast<std::uint8_t>(change.kind);
  r.key = change.key;
  r.seq = change.version.sequence;
  switch (change.kind) {
    case EntryKind::kDevice:
      r.removed = !change.new_contribution;  // a withdrawal or a departure: the removal record's size
      r.state = change.new_contribution.value_or(DeviceState::kUnknown);
      break;
    case EntryKind::kRegistration: {
      const RegistrationInfo* info = change.new_registration != nullptr ? change.new_registration : change.old_registration;
      if (info == nullptr) break;
      r.removed = change.new_registration == nullptr;
      r.status = info->status;
      r.expires_ns = info->expires.time_since_epoch().count();
      r.horizon_ns = r.expires_ns;
      r.rtt_us = info->rtt_us;
      r.contact = info->contact;
      if (!r.removed) {
        r.path = info->path;
        r.user_agent = info->user_agent;
      }
      break;
    }
    case EntryKind::kMailbox:
      if (change.new_mailbox) {
        r.counts = change.new_mailbox->counts;
        r.hlc = change.new_mailbox->hlc;
        r.writer = change.new_mailbox->writer;
      } else if (change.old_mailbox) {
        // A removal: its record, sized with the removed value's timestamp (the removal's is not in
        // the change; its varint is as wide unless the two straddle a power of 2^7).
        r.removed = true;
        r.hlc = change.old_mailbox->hlc;
        r.writer = change.origin;
      }
      break;
  }
  return codec::EncodedRecordBytes(r);
}

}  // namespace pbxstate
