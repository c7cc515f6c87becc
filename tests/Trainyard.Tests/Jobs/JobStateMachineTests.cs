using System.Text.RegularExpressions;
using CsCheck;
using Trainyard.Algorithms;
using Trainyard.Jobs;
using Trainyard.Model;

namespace Trainyard.Tests.Jobs;

/// <summary>The transition table: SageMaker's sequences, refusals, and random event streams with replays.</summary>
public sealed class JobStateMachineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // Written from SageMaker's documented lifecycle, independently of the table: the secondary statuses a
    // training job passes through, in order.
    private static readonly Regex Legal = new(
        "^Starting(,Downloading(,Training(,Uploading(,Completed)?)?)?)?(,Stopping(,Stopped|,MaxRuntimeExceeded|,Failed)?|,Failed)?$",
        RegexOptions.CultureInvariant);

    private static JobRecord NewJob() => JobStateMachine.Start(new JobRecord
    {
        Name = "job",
        Arn = "arn:aws:sagemaker:us-east-1:000000000000:training-job/job",
        Sequence = 1,
        Definition = null!,
        DefinitionJson = "{}",
        ImagePath = "/x",
        Status = TrainingJobStatus.InProgress,
        SecondaryStatus = SecondaryStatus.Starting,
        CreationTime = T0,
        LastModifiedTime = T0,
    }, T0);

    private static (JobRecord Job, List<bool> Applied) Run(IEnumerable<JobEvent> events)
    {
        var job = NewJob();
        var applied = new List<bool>();
        var now = T0;
        foreach (var e in events)
        {
            now = now.AddSeconds(1);
            applied.Add(JobStateMachine.TryApply(job, e, now, out var next, out var refusal));
            Assert.True(applied[^1] ? refusal is null : ReferenceEquals(next, job) && refusal is not null);
            job = next;
        }

        return (job, applied);
    }

    private static string Sequence(JobRecord job) => string.Join(",", job.Transitions.Select(t => t.Status));

    [Fact]
    public void Enums_AreTheServiceModels()
    {
        Assert.Equal(ServiceModel.Instance["TrainingJobStatus"].Enum, Enum.GetNames<TrainingJobStatus>());
        Assert.Equal(ServiceModel.Instance["SecondaryStatus"].Enum, Enum.GetNames<SecondaryStatus>());
        Assert.Equal(ServiceModel.Instance["AlgorithmStatus"].Enum, Enum.GetNames<AlgorithmStatus>());
        Assert.Equal(ServiceModel.Instance["DetailedAlgorithmStatus"].Enum, Enum.GetNames<DetailedAlgorithmStatus>());
    }

    [Fact]
    public void Apply_JobThatCompletes_PassesThroughSageMakersStatusesAndMessages()
    {
        var (job, applied) = Run([JobEvent.Download, JobEvent.Train, JobEvent.Upload, JobEvent.Complete]);
        Assert.All(applied, Assert.True);
        Assert.Equal("Starting,Downloading,Training,Uploading,Completed", Sequence(job));
        Assert.Equal(
            ["Preparing the instances for training", "Downloading input data", "Training image download completed. Training in progress.", "Uploading generated training model", "Training job completed"],
            job.Transitions.Select(t => t.StatusMessage));
        Assert.Equal(TrainingJobStatus.Completed, job.Status);
        Assert.Equal(T0.AddSeconds(1), job.TrainingStartTime);
        Assert.Equal(T0.AddSeconds(4), job.TrainingEndTime);
        Assert.All(job.Transitions.Zip(job.Transitions.Skip(1)), p => Assert.Equal(p.First.EndTime, p.Second.StartTime));
        Assert.Equal(T0.AddSeconds(4), job.Transitions[^1].EndTime);
    }

    [Fact]
    public void Apply_StopAndTimeOut_EndInStoppedAndMaxRuntimeExceeded()
    {
        var (stopped, _) = Run([JobEvent.Download, JobEvent.Stop, JobEvent.Halt]);
        Assert.Equal("Starting,Downloading,Stopping,Stopped", Sequence(stopped));
        Assert.Equal(TrainingJobStatus.Stopped, stopped.Status);

        var (timedOut, _) = Run([JobEvent.Download, JobEvent.Train, JobEvent.TimeOut, JobEvent.Stop, JobEvent.Halt]);
        Assert.Equal("Starting,Downloading,Training,Stopping,MaxRuntimeExceeded", Sequence(timedOut));
        Assert.Equal(TrainingJobStatus.Stopped, timedOut.Status);
        Assert.Equal("Training job runtime exceeded MaxRuntimeInSeconds provided", timedOut.StatusMessage);
    }

    [Fact]
    public void Apply_StopWhileStarting_EndsStoppedNotFailed()
    {
        var (job, _) = Run([JobEvent.Stop, JobEvent.Halt]);
        Assert.Equal("Starting,Stopping,Stopped", Sequence(job));
        Assert.Null(job.FailureReason);
    }

    [Fact]
    public void Apply_RepeatedLateOrAfterTheEnd_IsRefusedAndChangesNothing()
    {
        var (job, applied) = Run([JobEvent.Download, JobEvent.Download, JobEvent.Train, JobEvent.Download, JobEvent.Upload, JobEvent.Complete, JobEvent.Stop, JobEvent.Fail("late")]);
        Assert.Equal([true, false, true, false, true, true, false, false], applied);
        Assert.Equal("Starting,Downloading,Training,Uploading,Completed", Sequence(job));
        Assert.Null(job.FailureReason);
    }

    [Fact]
    public void Apply_NoteWithinAStatus_ChangesOnlyItsMessage()
    {
        var (job, applied) = Run([JobEvent.Download, JobEvent.Train, JobEvent.Note("Downloading the training image"), JobEvent.Note("Downloading the training image"), JobEvent.Note(JobStateMachine.TrainingMessage)]);
        Assert.Equal([true, true, true, false, true], applied);
        Assert.Equal("Starting,Downloading,Training", Sequence(job));
        Assert.Equal(JobStateMachine.TrainingMessage, job.StatusMessage);
        Assert.Equal(T0.AddSeconds(5), job.LastModifiedTime);
    }

    [Fact]
    public void Apply_FailureReason_IsCutToSageMakersLimit()
    {
        var (job, _) = Run([JobEvent.Fail(new string('x', 5000))]);
        Assert.Equal(JobStateMachine.MaxFailureReasonLength, job.FailureReason!.Length);
        Assert.Equal(job.FailureReason, job.StatusMessage);
    }

    private static readonly Gen<JobEvent> AnyEvent = Gen.OneOf(
        Gen.Int[0, 6].Select(i => new[] { JobEvent.Download, JobEvent.Train, JobEvent.Upload, JobEvent.Complete, JobEvent.Stop, JobEvent.TimeOut, JobEvent.Halt }[i]),
        Gen.Int[0, 3].Select(i => JobEvent.Fail("reason " + i)),
        Gen.Int[0, 3].Select(i => JobEvent.Note("message " + i)));

    [Fact]
    public void Apply_RandomEventStreams_AlwaysGiveALegalSageMakerSequence()
    {
        AnyEvent.List[0, 40].Sample(events =>
        {
            var (job, _) = Run(events);
            var sequence = Sequence(job);
            Assert.Matches(Legal, sequence);
            Assert.Equal(JobStateMachine.StatusOf(job.SecondaryStatus), job.Status);
            Assert.Equal(job.SecondaryStatus, job.Transitions[^1].Status);
            Assert.All(job.Transitions.Zip(job.Transitions.Skip(1)), p => Assert.Equal(p.First.EndTime, p.Second.StartTime));
            Assert.Equal(job.IsTerminal, job.Transitions[^1].EndTime is not null);
            Assert.Equal(job.IsTerminal, job.TrainingEndTime is not null);
            Assert.Equal(job.Status == TrainingJobStatus.Failed, job.FailureReason is not null);
            Assert.True(job.TrainingStartTime is null || job.TrainingStartTime <= job.LastModifiedTime);
        }, iter: 20_000);
    }

    [Fact]
    public void Apply_ReplaysOfAppliedEvents_ChangeNothing()
    {
        // What a follower that reads a host's events again after a restart does: events already applied
        // come again, later, any number of times, in any order among the new ones.
        var gen = Gen.Select(AnyEvent.List[1, 30], Gen.Int[0, 1000].List[0, 30]);
        gen.Sample((events, picks) =>
        {
            var (once, applied) = Run(events);
            // Each entry remembers which original it is (-1 for a replay), so a replay goes after its original.
            var replayed = events.Select((e, i) => (Event: e, Original: i)).ToList();
            foreach (var pick in picks)
            {
                var i = pick % events.Count;
                if (!applied[i] || events[i].Kind == JobEventKind.Note)
                {
                    continue;
                }

                var original = replayed.FindIndex(r => r.Original == i);
                var at = original + 1 + (pick / events.Count % (replayed.Count - original));
                replayed.Insert(at, (events[i], -1));
            }

            var (again, _) = Run(replayed.Select(r => r.Event));
            Assert.Equal(Sequence(once), Sequence(again));
            Assert.Equal(once.Status, again.Status);
            Assert.Equal(once.FailureReason, again.FailureReason);
        }, iter: 10_000);
    }
}
