using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Trainyard.Jobs;

/// <summary>
/// Capacity and the queue. A job starts when its instances fit under <c>--max-instances</c> and, for its
/// instance type, <c>--capacity TYPE=N</c>; otherwise it waits, InProgress / Starting, first in first out
/// (the job's creation sequence), with a StatusMessage saying what it waits for and how many jobs are
/// ahead, and fails once it has waited longer than StoppingCondition.MaxPendingTimeInSeconds. A job that
/// can never fit is refused at create (<see cref="NeverFits"/>). Decisions are taken under one lock;
/// jobs are started and status messages written outside it, by one writer (<see cref="RunAsync"/>), and a
/// waiting message is written only while its job still waits — a job's lock may be held while the
/// scheduler's is taken, never the other way round.
/// </summary>
public sealed partial class JobScheduler
{
    private readonly TrainyardOptions _options;
    private readonly JobStore _store;
    private readonly Action<JobRecord> _start;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<Waiting> _queue = [];
    private readonly Dictionary<string, int> _inUseByType = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _messagesChanged = new(0, 1);
    private int _inUse;
    private bool _closed;

    /// <param name="start">Starts an admitted job's runner (called outside the scheduler's lock).</param>
    public JobScheduler(TrainyardOptions options, JobStore store, Action<JobRecord> start, ILogger logger, TimeProvider? time = null)
    {
        _options = options;
        _store = store;
        _start = start;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    private sealed record Waiting(string Name, string InstanceType, int Instances, long Sequence, DateTimeOffset Since, TimeSpan? MaxPending)
    {
        public string? Message { get; set; }
    }

    /// <summary>Instances held by running jobs.</summary>
    public int InUse
    {
        get
        {
            lock (_gate)
            {
                return _inUse;
            }
        }
    }

    /// <summary>Jobs waiting, in the order they will start.</summary>
    public IReadOnlyList<string> Queued
    {
        get
        {
            lock (_gate)
            {
                return [.. _queue.Select(w => w.Name)];
            }
        }
    }

    /// <summary>Why a job of <paramref name="instances"/> × <paramref name="instanceType"/> could never start here, or null when it can.</summary>
    public static string? NeverFits(TrainyardOptions options, string instanceType, int instances)
    {
        if (instances > options.MaxInstances)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"The account-level service limit 'training job instances' is {options.MaxInstances} Instances, and this job asks for {instances} Instances: it could never start. Use fewer instances, or start the server with a larger --max-instances.");
        }

        if (options.Capacity.TryGetValue(instanceType, out var limit) && instances > limit)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"The account-level service limit '{instanceType} for training job usage' is {limit} Instances, and this job asks for {instances} Instances: it could never start. Use fewer instances, or start the server with a larger --capacity {instanceType}=N.");
        }

        return null;
    }

    /// <summary>Queues a job just created (or found queued at a restart, in creation order); it starts at once when nothing is ahead and it fits.</summary>
    public void Enqueue(JobRecord job)
    {
        var waiting = new Waiting(job.Name, InstanceTypeOf(job), InstancesOf(job), job.Sequence, job.CreationTime,
            job.Definition.StoppingCondition.MaxPendingTimeInSeconds is { } pending ? TimeSpan.FromSeconds(pending) : null);
        List<Waiting> admitted;
        lock (_gate)
        {
            var at = _queue.FindIndex(w => w.Sequence > waiting.Sequence);
            _queue.Insert(at < 0 ? _queue.Count : at, waiting);
            admitted = AdmitLocked();
        }

        Started(admitted);
    }

    /// <summary>A job whose hosts already run (found at a restart): it holds its instances, whatever the limits are now.</summary>
    public void Occupy(JobRecord job)
    {
        lock (_gate)
        {
            Take(InstanceTypeOf(job), InstancesOf(job));
        }
    }

    /// <summary>A running job has ended: its instances go to the jobs waiting.</summary>
    public void Release(JobRecord job)
    {
        List<Waiting> admitted;
        lock (_gate)
        {
            var type = InstanceTypeOf(job);
            var instances = InstancesOf(job);
            _inUse -= instances;
            _inUseByType[type] = _inUseByType.GetValueOrDefault(type) - instances;
            admitted = AdmitLocked();
        }

        Started(admitted);
    }

    /// <summary>Takes a job out of the queue (it was stopped or failed while waiting); false when it was not waiting.</summary>
    public bool Remove(string name)
    {
        List<Waiting> admitted;
        lock (_gate)
        {
            var at = _queue.FindIndex(w => string.Equals(w.Name, name, StringComparison.OrdinalIgnoreCase));
            if (at < 0)
            {
                return false;
            }

            _queue.RemoveAt(at);
            admitted = AdmitLocked();
        }

        Started(admitted);
        return true;
    }

    /// <summary>The server is shutting down: no job starts any more; those waiting stay queued for the next server.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
        }
    }

    /// <summary>
    /// Keeps the waiting jobs' StatusMessages current and fails those that waited longer than their
    /// MaxPendingTimeInSeconds. Runs until <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            List<(string Name, string Message)> notes;
            List<Waiting> expired;
            var now = _time.GetUtcNow();
            lock (_gate)
            {
                expired = [.. _queue.Where(w => w.MaxPending is { } max && now - w.Since > max)];
                notes = [.. _queue.Select(w => (w.Name, w.Message!))];
            }

            // Only while the job still waits (checked under its lock): one admitted meanwhile has its own message.
            foreach (var (name, message) in notes)
            {
                _store.Apply(name, JobEvent.Note(message), when: j => IsQueued(j.Name));
            }

            foreach (var job in expired)
            {
                if (Remove(job.Name))
                {
                    var reason = string.Create(CultureInfo.InvariantCulture,
                        $"CapacityError: the job waited {(now - job.Since).TotalSeconds:F0} s for {Instances(job.Instances, job.InstanceType)}, longer than StoppingCondition.MaxPendingTimeInSeconds ({job.MaxPending!.Value.TotalSeconds:F0} s).");
                    _store.Apply(job.Name, JobEvent.Fail(reason));
                    LogPendingTooLong(_logger, job.Name, job.MaxPending.Value.TotalSeconds);
                }
            }

            try
            {
                await _messagesChanged.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Starts every job at the head of the queue that fits, in order; renames the rest.</summary>
    private List<Waiting> AdmitLocked()
    {
        var admitted = new List<Waiting>();
        while (!_closed && _queue.Count > 0 && Fits(_queue[0]))
        {
            var head = _queue[0];
            _queue.RemoveAt(0);
            Take(head.InstanceType, head.Instances);
            admitted.Add(head);
        }

        var changed = false;
        for (var i = 0; i < _queue.Count; i++)
        {
            var w = _queue[i];
            var message = string.Create(CultureInfo.InvariantCulture,
                $"{WaitingPrefix}{Instances(w.Instances, w.InstanceType)}: {(i == 0 ? "no jobs" : i == 1 ? "1 job" : $"{i} jobs")} ahead");
            if (message != w.Message)
            {
                w.Message = message;
                changed = true;
            }
        }

        if (changed && _messagesChanged.CurrentCount == 0)
        {
            try
            {
                _messagesChanged.Release();
            }
            catch (SemaphoreFullException)
            {
                // already signalled
            }
        }

        return admitted;
    }

    private const string WaitingPrefix = "Waiting for ";

    private static bool HasWaitingMessage(JobRecord job) => job.SecondaryStatus == SecondaryStatus.Starting && job.StatusMessage.StartsWith(WaitingPrefix, StringComparison.Ordinal);

    private bool IsQueued(string name)
    {
        lock (_gate)
        {
            return _queue.Exists(w => string.Equals(w.Name, name, StringComparison.OrdinalIgnoreCase));
        }
    }

    private static string Instances(int count, string type) => count == 1 ? $"1 {type} instance" : string.Create(CultureInfo.InvariantCulture, $"{count} {type} instances");

    private bool Fits(Waiting w) =>
        _inUse + w.Instances <= _options.MaxInstances
        && (!_options.Capacity.TryGetValue(w.InstanceType, out var limit) || _inUseByType.GetValueOrDefault(w.InstanceType) + w.Instances <= limit);

    private void Take(string type, int instances)
    {
        _inUse += instances;
        _inUseByType[type] = _inUseByType.GetValueOrDefault(type) + instances;
    }

    private void Started(List<Waiting> admitted)
    {
        foreach (var w in admitted)
        {
            var job = _store.Get(w.Name) ?? throw new InvalidOperationException($"Job {w.Name} is not in the store.");
            if (job.IsTerminal)
            {
                // Ended while it was being admitted (failed for its pending time): its instances go back.
                Release(job);
                continue;
            }

            _store.Apply(w.Name, JobEvent.Note(JobStateMachine.StartingMessage), when: HasWaitingMessage);
            _start(_store.Get(w.Name)!);
        }
    }

    private static string InstanceTypeOf(JobRecord job) => job.Definition.ResourceConfig.InstanceType ?? "ml.m5.large";

    private static int InstancesOf(JobRecord job) => job.Definition.ResourceConfig.InstanceCount ?? 1;

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "Job {Job} waited longer than its MaxPendingTimeInSeconds ({Seconds} s) and failed")]
    private static partial void LogPendingTooLong(ILogger logger, string job, double seconds);
}
