// What this node lacks and whom to ask (Want): offers merged, donors ranked, and the checks that
// hold a want back or make it smaller before StartPulls (engine_sync.cc) opens a session for it.
#include <algorithm>
#include <iterator>

#include "engine_impl.h"
#include "pbxstate/check.h"

namespace pbxstate {

void EngineImpl::AddWant(NodeId origin, std::uint64_t incarnation, std::uint64_t target, bool full, NodeId donor,
                         std::uint64_t full_at) {
  Want& w = wants_[origin];
  if (incarnation > w.incarnation) {
    w = Want{};
    w.incarnation = incarnation;
  } else if (incarnation < w.incarnation) {
    return;
  }
  w.target = std::max(w.target, target);
  if (full) w.full_at = w.full ? std::max(w.full_at, full_at) : full_at;
  w.full = w.full || full;
  PBXSTATE_CHECK(w.full || w.full_at == 0);
  if (std::find(w.donors.begin(), w.donors.end(), donor) != w.donors.end()) return;
  const std::size_t limit = origin == codec::kMailboxOrigin ? config_.max_nodes : kMaxWantDonors;
  // Kept in DonorRank order, offers of one rank in the order they came: the first is asked, the
  // others follow when it fails. A better-ranked donor displaces the worst one of a full list.
  // A busy donor moved behind its group (BackOffFromBusyDonor) breaks the order within that
  // group, so the worst is looked for rather than taken from the back.
  const int rank = DonorRank(origin, donor);
  if (w.donors.size() >= limit) {
    // The last of the worst rank (max_element on the reversed list: its first maximum; a
    // comparator of <= would break max_element's strict weak ordering).
    const auto last_worst = std::max_element(w.donors.rbegin(), w.donors.rend(), [&](NodeId a, NodeId b) {
      return DonorRank(origin, a) < DonorRank(origin, b);
    });
    const auto worst = std::prev(last_worst.base());
    if (DonorRank(origin, *worst) <= rank) return;
    w.donors.erase(worst);
  }
  auto at = std::find_if(w.donors.begin(), w.donors.end(), [&](NodeId d) { return DonorRank(origin, d) > rank; });
  // The pause after a busy refusal (BackOffFromBusyDonor) was for the donors known then; one that
  // comes first now is asked at once (at a heal the other digests come a trip after the first).
  if (at == w.donors.begin()) w.not_before = MonoTime{};
  w.donors.insert(at, donor);
  PBXSTATE_CHECK_LE(w.donors.size(), limit);
}

void EngineImpl::ForgetStaleFullPull(Want& w, MonoTime now) {
  // The two hashes were compared at a watermark this node has since left behind (a pull of the
  // origin ran meanwhile: at a heal, every node that lacks an origin holds a different part of
  // its live updates above the same watermark, and their digests differ while their pulls run).
  // A full pull now would re-send every entry the last one brought. The donors get this node's
  // digest after sync_retransmit instead: a real difference shows again, at the new watermark.
  PBXSTATE_CHECK(w.full);
  w.full = false;
  w.full_at = 0;
  for (NodeId d : w.donors) recheck_targets_.insert(d);
  const MonoTime due = now + config_.sync_retransmit;
  if (!recheck_due_ || *recheck_due_ < due) recheck_due_ = due;
}

bool EngineImpl::OwnerOfferExpected(NodeId origin, NodeId from, MonoTime now) const {
  if (!unicast_reaches_everyone_ || from == origin || DonorRank(origin, origin) != 0) return false;
  const auto owner = peers_.find(origin);
  return owner != peers_.end() && owner->second.live && !owner->second.own_offer_read &&
         now - owner->second.joined_at < OwnerOfferWindow();
}

bool EngineImpl::WaitsForSiteMate(NodeId origin, Want& w, MonoTime now) {
  if (DonorRank(origin, w.donors.front()) < 2 || !SpeakersOn() || ActsForSite()) return false;
  if (w.far_after == MonoTime{}) w.far_after = now + config_.anti_entropy_interval;
  return now < w.far_after;
}

bool EngineImpl::PullsShareOfSiteMate(NodeId origin, NodeId donor) const {
  if (!SpeakersOn() || ActsForSite() || DonorRank(origin, donor) >= 2) return false;
  // The donor's pullers: its site-mates present now, this node among them (a site with nodes
  // down shares the donor among fewer).
  const std::vector<NodeId>& site = site_nodes_.at(OwnSite());
  const auto present = std::count_if(site.begin(), site.end(), [&](NodeId n) { return n == config_.node_id || IsLive(n); });
  const std::size_t pullers = std::max<std::size_t>(1, static_cast<std::size_t>(present) - 1);
  const std::size_t share = std::max<std::size_t>(1, config_.max_sync_serves / pullers);
  const auto open = std::count_if(pulls_.begin(), pulls_.end(), [&](const auto& p) { return p.second.donor == donor; });
  return static_cast<std::size_t>(open) >= share;
}

}  // namespace pbxstate
