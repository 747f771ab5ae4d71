#include "pbxstate/emu/network.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <utility>

#include <ns3/simulator.h>

#include "pbxstate/emu/kernel_tick.h"

namespace pbxstate::emu {

EmulatedNetwork::EmulatedNetwork(const EmulationSpec& spec) : spec_(spec) {}

EmulatedNetwork::~EmulatedNetwork() { Stop(); }

Status EmulatedNetwork::Create(const EmulationSpec& spec, std::unique_ptr<EmulatedNetwork>* out) {
  if (spec.realtime_priority < 0 || spec.realtime_priority > 98) {
    return Status::InvalidArgument("emulation: the real-time priority must be 0..98");
  }
  std::unique_ptr<EmulatedNetwork> net(new EmulatedNetwork(spec));
  ns3sim::SelectSimulator(ns3sim::SimulatorKind::kRealtime);
  if (Status st = ns3sim::Ns3World::Create(spec.world, &net->world_); !st.ok()) {
    ns3sim::SelectSimulator(ns3sim::SimulatorKind::kDiscreteEvent);
    return st;
  }
  if (Status st = ns3sim::EmulatedHosts::Create(net->world_.get(), &net->hosts_); !st.ok()) return st;
  for (NodeId id : net->world_->nodes()) {
    ns3sim::HostInterface h;
    if (Status st = net->hosts_->Interface(id, &h); !st.ok()) return st;
    net->interfaces_.push_back(std::move(h));
  }
  net->probe_ = std::make_unique<ns3sim::RealtimeLagProbe>(spec.lag_probe_interval);
  *out = std::move(net);
  return Status::Ok();
}

std::vector<std::string> EmulatedNetwork::Addresses() const {
  std::vector<std::string> out;
  for (const auto& h : interfaces_) out.push_back(h.address);
  return out;
}

Status EmulatedNetwork::Attach(netns::NetnsCluster* cluster) {
  if (running()) return Status::FailedPrecondition("emulation: attach before the simulation starts");
  if (cluster->size() != interfaces_.size()) {
    return Status::InvalidArgument("emulation: the cluster has " + std::to_string(cluster->size()) + " nodes, the world " +
                                   std::to_string(interfaces_.size()));
  }
  for (NodeId n = 1; n <= cluster->size(); ++n) {
    const ns3sim::HostInterface& h = interfaces_[n - 1];
    netns::TapConfig tap;
    tap.interface = netns::kNodeInterface;
    tap.mac = h.mac;
    tap.address = h.address;
    tap.prefix_length = h.prefix_length;
    tap.gateway = h.gateway;
    tap.mtu = h.mtu;
    int fd = -1;
    if (Status st = cluster->AttachTap(n, tap, &fd); !st.ok()) return st;
    if (Status st = hosts_->Attach(n, fd); !st.ok()) {
      close(fd);
      return st;
    }
  }
  return Status::Ok();
}

void EmulatedNetwork::TraceCpus(LagWitness::Options* wo) {
  interrupts_traced_ = ReadKernelTick("/proc/timer_list", kTickReading, &kernel_tick_);
  if (!interrupts_traced_.ok()) return;
  interrupts_ = std::make_unique<TimerInterrupts>(kernel_tick_);
  TimerInterrupts::Options io;
  io.instance = "pbxstate-emu-" + std::to_string(getpid());
  interrupts_traced_ = interrupts_->Open(io);
  if (!interrupts_traced_.ok()) return;
  wo->interrupts = interrupts_.get();
  TaskSwitches::Options so;
  so.instance = io.instance + "-switches";
  switches_traced_ = switches_.Open(so);
  if (!switches_traced_.ok()) return;
  wo->switches = &switches_;
  wo->switches_over = spec_.trace_switches_over;
  if (!spec_.trace_switches_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(spec_.trace_switches_dir, ec);
    if (!ec) wo->switches_dir = spec_.trace_switches_dir;
  }
}

Status EmulatedNetwork::Start() {
  if (running() || world_ == nullptr) return Status::FailedPrecondition("emulation: started already, or stopped");
  if (Status st = guard_.Enter(spec_.lock_memory, spec_.realtime_priority > 0 ? spec_.realtime_watchdog : Duration::zero());
      !st.ok()) {
    return st;
  }
  if (spec_.poll_idle && spec_.realtime_priority > 0) HoldIdlePolling();
  const bool guarded = spec_.lifeguard && spec_.realtime_priority > 0 && Lifeguard::Useful();
  LagWitness::Options wo;
  wo.priority = spec_.realtime_priority > 0 ? 1 : 0;  // below the lifeguards and the simulation
  wo.lifeguard = guarded ? &lifeguard_ : nullptr;
  wo.simulation_cpu_ns = [this]() -> std::int64_t {
    if (!simulation_clock_set_.load(std::memory_order_acquire)) return -1;
    timespec ts{};
    if (clock_gettime(simulation_clock_, &ts) != 0) return -1;  // the thread has ended
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  };
  if (spec_.trace_interrupts && spec_.realtime_priority > 0) TraceCpus(&wo);
  if (Status st = witness_.Start(wo); !st.ok()) return st;
  probe_->OnLate([this](Duration due, Duration lag) { witness_.Note(origin_mono_ns_.load(std::memory_order_relaxed) + due.count(), lag); });
  if (Status st = probe_->Start(); !st.ok()) return st;
  if (guarded) ns3::Simulator::Schedule(ns3::NanoSeconds(spec_.lag_probe_interval.count()), &EmulatedNetwork::Heartbeat, this);
  pid_t sim_tid = 0;
  std::promise<Status> prepared;
  std::future<Status> ready = prepared.get_future();
  thread_ = std::thread([this, &prepared, &sim_tid] {
    sim_tid = static_cast<pid_t>(syscall(SYS_gettid));
    if (pthread_getcpuclockid(pthread_self(), &simulation_clock_) == 0) simulation_clock_set_.store(true, std::memory_order_release);
    Status st = PrepareRealtimeThread(spec_.realtime_priority);
    const bool ok = st.ok();
    // Simulated time 0 is when Run starts pacing (RealtimeSimulatorImpl sets its origin there).
    origin_mono_ns_ = MonotonicNs();
    prepared.set_value(std::move(st));
    if (ok) ns3::Simulator::Run();
  });
  Status st = ready.get();
  simulation_tid_ = sim_tid;
  if (st.ok() && switches_.open()) switches_traced_ = switches_.Follow({sim_tid});  // where it waits
  if (!st.ok()) {
    thread_.join();
    return st;
  }
  if (!guarded) return Status::Ok();
  Lifeguard::Options lo;
  lo.priority = std::max(spec_.realtime_priority - 1, 1);
  lo.period = spec_.lag_probe_interval;
  lo.overdue = spec_.lag_probe_interval + kLifeguardSlack;
  // An empty event now: scheduling from another thread signals the sleeping simulation (lifeguard.h).
  lo.kick = [] { ns3::Simulator::ScheduleWithContext(ns3::Simulator::NO_CONTEXT, ns3::Time(0), [] {}); };
  Status started = lifeguard_.Start(sim_tid, lo);
  lifeguard_on_ = started.ok();
  // And whether the lifeguards' timers woke them: the stalls' allowance (task_switches.h).
  if (lifeguard_on_ && switches_.open() && switches_traced_.ok()) {
    std::vector<int> followed{sim_tid};
    for (pid_t tid : lifeguard_.thread_ids()) followed.push_back(tid);
    switches_traced_ = switches_.Follow(std::move(followed));
  }
  return started;
}

void EmulatedNetwork::HoldIdlePolling() {
  // The request does not depend on the counters: they only show whether it took.
  idle_polling_ = idle_.Hold(kCpuLatencyFile);
  idle_counted_ = ReadIdleEntries(kCpuSysfsRoot, &idle_at_start_);
}

IdleEntries EmulatedNetwork::idle_entries() {
  if (!idle_.held() || !idle_counted_.ok()) return idle_at_stop_;
  IdleEntries now;
  idle_counted_ = ReadIdleEntries(kCpuSysfsRoot, &now);
  if (!idle_counted_.ok()) return IdleEntries{};
  return IdleEntriesSince(idle_at_start_, now);
}

void EmulatedNetwork::Heartbeat() {
  lifeguard_.Beat();
  ns3::Simulator::Schedule(ns3::NanoSeconds(spec_.lag_probe_interval.count()), &EmulatedNetwork::Heartbeat, this);
}

Status EmulatedNetwork::Call(std::function<Status(ns3sim::Ns3World&)> fn, std::int64_t* ran_mono_ns) {
  if (!running() || stopped_) return Status::FailedPrecondition("emulation: the simulation is not running");
  auto done = std::make_shared<std::promise<std::pair<Status, std::int64_t>>>();
  std::future<std::pair<Status, std::int64_t>> result = done->get_future();
  ns3sim::Ns3World* world = world_.get();
  {
    ScopedPriority raised(spec_.realtime_priority);  // the simulator's queue lock
    ns3::Simulator::ScheduleWithContext(ns3::Simulator::NO_CONTEXT, ns3::Time(0), [done, world, fn = std::move(fn)] {
      const std::int64_t t = MonotonicNs();
      done->set_value({fn(*world), t});
    });
  }
  if (result.wait_for(spec_.call_timeout) != std::future_status::ready) {
    return Status::FailedPrecondition("emulation: the simulation did not run a call within " +
                                      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(spec_.call_timeout).count()) + " s");
  }
  auto [st, t] = result.get();
  if (ran_mono_ns != nullptr) *ran_mono_ns = t;
  return st;
}

ns3sim::LagStats EmulatedNetwork::lag() const {
  if (probe_ == nullptr) return final_lag_;
  ScopedPriority raised(spec_.realtime_priority);  // the probe's lock, which every probe takes
  return probe_->stats();
}

Status EmulatedNetwork::PutReadersBelowLifeguards(std::size_t* moved) {
  *moved = 0;
  // The lifeguards run one below the simulation (Start): the readers go one below them. At
  // ordinary scheduling there are no lifeguards, and no stall is laid to the whole machine.
  if (!running() || spec_.realtime_priority == 0) return Status::Ok();
  if (spec_.realtime_priority < 3) {
    return Status::FailedPrecondition("emulation: at SCHED_FIFO " + std::to_string(spec_.realtime_priority) +
                                      " the readers cannot go below the lifeguards (it takes 3 or more)");
  }
  std::vector<pid_t> readers;
  Status st = MoveFifoThreads(spec_.realtime_priority, spec_.realtime_priority - 2, simulation_tid_, &readers);
  *moved = readers.size();
  // A reader holding the simulator's lock is moved with the simulation by its rescue (lifeguard.h).
  if (lifeguard_on_) lifeguard_.Accompany(std::move(readers));
  return st;
}

void EmulatedNetwork::ResetLag() {
  lifeguard_.ResetHeld();
  witness_.Reset();
  if (probe_ == nullptr) return;
  ScopedPriority raised(spec_.realtime_priority);
  probe_->Reset();
}

bool EmulatedNetwork::watchdog_fired() const { return RealtimeGuard::fired(); }

template <typename T>
T EmulatedNetwork::ReadHosts(T (ns3sim::EmulatedHosts::*read)() const, const T& at_stop) {
  if (!running() || stopped_) return at_stop;
  // Shared with the call: if it timed out, it may still run later.
  auto now = std::make_shared<T>();
  ns3sim::EmulatedHosts* hosts = hosts_.get();
  if (!Call([now, hosts, read](ns3sim::Ns3World&) {
         *now = (hosts->*read)();
         return Status::Ok();
       }).ok()) {
    return at_stop;
  }
  return *now;
}

ns3sim::EmuCounters EmulatedNetwork::counters() { return ReadHosts(&ns3sim::EmulatedHosts::counters, counters_); }

std::vector<ns3sim::EmuCounters> EmulatedNetwork::node_counters() {
  return ReadHosts(&ns3sim::EmulatedHosts::node_counters, node_counters_);
}

void EmulatedNetwork::Stop() {
  if (stopped_.exchange(true)) return;
  lifeguard_.Stop();
  if (thread_.joinable()) {
    {
      ScopedPriority raised(spec_.realtime_priority);
      ns3::Simulator::ScheduleWithContext(ns3::Simulator::NO_CONTEXT, ns3::Time(0), [] { ns3::Simulator::Stop(); });
    }
    thread_.join();
  }
  witness_.Stop();
  if (interrupts_) interrupts_->Close();
  switches_.Close();
  if (probe_ != nullptr) final_lag_ = probe_->stats();
  if (hosts_ != nullptr) {
    counters_ = hosts_->counters();
    node_counters_ = hosts_->node_counters();
  }
  hosts_.reset();
  // Destroying the world destroys the simulation: every FdNetDevice stops its reader thread and
  // closes its TAP, which removes the TAP from its namespace.
  const bool had_world = world_ != nullptr;
  world_.reset();
  probe_.reset();
  if (had_world) ns3sim::SelectSimulator(ns3sim::SimulatorKind::kDiscreteEvent);
  idle_at_stop_ = idle_entries();
  idle_.Release();
  guard_.Leave();
}

}  // namespace pbxstate::emu
