// workload.name_churn: names coming and going (scenario::NameChurn).
#include <cmath>

#include "loader_impl.h"
#include "pbxstate/scenario/units.h"

namespace pbxstate::scenario::detail {

void Loader::ReadNameChurn(const Field& f) {
  name_churn_field_ = f;
  MapReader m(f, d_,
              "a mapping of name churn settings (rate, devices, remove, registrations, registration_expiry, "
              "mailboxes, mailbox_steps)");
  if (!m.ok()) return;
  if (!m.AllowOnly({"rate", "devices", "remove", "registrations", "registration_expiry", "mailboxes", "mailbox_steps"})) {
    return;
  }
  NameChurn c;
  c.pos = PosOf(f);
  bool ok = false;
  if (auto rate = m.RequireValue("rate", "the steps per second, e.g. 20/s", RateIn(d_, 0, kMaxRate))) {
    c.rate_per_s = *rate;
    ok = true;
  }
  ok = m.ReadIfPresent("devices", c.devices, UintIn(d_, 0, kMaxKeys)) && ok;
  ok = m.ReadIfPresent("remove", c.remove, ShareOf(d_, "a share")) && ok;
  ok = m.ReadIfPresent("registrations", c.registrations, ShareOf(d_, "a share")) && ok;
  ok = m.ReadIfPresent("mailboxes", c.mailboxes, UintIn(d_, 0, kMaxKeys)) && ok;
  ok = m.ReadIfPresent("mailbox_steps", c.mailbox_steps, ShareOf(d_, "a share")) && ok;
  if (auto v = m.Get("registration_expiry")) {
    if (auto x = ReadDuration(*v, d_, 1s, kMaxExpiry)) {
      c.registration_expiry = *x;
      expiry_uses_.emplace_back(*v, *x);
    } else {
      ok = false;
    }
  }
  if (!ok) return;
  // Shares are exact decimals from the file; a sum a rounding step above 1 is still 100%.
  constexpr double kShareSlack = 1e-9;
  if (c.registrations + c.mailbox_steps > 1.0 + kShareSlack) {
    const auto field = m.Get("mailbox_steps");
    d_.Error(field->mark, field->path,
             "expected registrations and mailbox_steps to add up to at most 100% of steps, got " +
                 FormatNumber(100 * (c.registrations + c.mailbox_steps)) + "%");
    return;
  }
  if (c.mailbox_steps > 0 && c.mailboxes == 0) {
    const auto field = m.Get("mailboxes");
    d_.Error(field ? field->mark : f.mark, field ? field->path : f.path + ".mailboxes",
             "mailbox steps need live names; expected mailboxes above 0 (or no mailbox_steps)");
    return;
  }
  if (c.devices == 0 && c.registrations + c.mailbox_steps < 1.0 - kShareSlack) {
    const auto field = m.Get("devices");
    d_.Error(field ? field->mark : f.mark, field ? field->path : f.path + ".devices",
             "device steps need live names; expected devices above 0 (or registrations and mailbox_steps adding "
             "up to 100%)");
    return;
  }
  s_.workload.name_churn = c;
}

void Loader::CheckNameChurn(double* total_changes) {
  const Workload& w = s_.workload;
  if (!w.name_churn) return;
  if (w.name_churn->rate_per_s > 0 && w.start >= w.stop) {
    const Field f = WorkloadField(workload_fields_.count("stop") ? "stop" : "start");
    d_.Error(f.mark, f.path,
             "expected start (" + FormatDuration(w.start) + ") before stop (" + FormatDuration(w.stop) +
                 ") for the name churn's steps");
    return;
  }
  *total_changes += w.name_churn->rate_per_s * std::chrono::duration<double>(w.stop - w.start).count();
}

}  // namespace pbxstate::scenario::detail
