using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>
/// What <c>SKLearn(entry_point="train.py", source_dir=…, instance_count=2).fit()</c> and
/// <c>estimator.training_job_analytics</c> do, call for call, through boto3 against one Trainyard port and
/// nothing else: STS for the account, the default bucket (HeadBucket → 404 → CreateBucket), the source
/// and the data uploaded through the S3 API, CreateTrainingJob with the SDK's JSON-encoded
/// hyperparameters on a framework image (script mode), the log tail through CloudWatch Logs, the metrics
/// through CloudWatch's GetMetricStatistics, and the model downloaded through S3.
/// </summary>
public sealed class SdkWorkflowTests
{
    [Fact]
    public async Task ScriptModeFit_TwoHosts_SourceThroughS3Api_LogsAndMetricsBack()
    {
        await using var server = await TestServer.StartAsync();
        const string script = """
            import boto3, botocore, io, json, os, sys, tarfile, time, datetime
            endpoint = os.environ["ENDPOINT"]
            session = boto3.session.Session(region_name="us-east-1")
            sm = session.client("sagemaker", endpoint_url=endpoint)
            s3 = session.client("s3", endpoint_url=endpoint)
            logs = session.client("logs", endpoint_url=endpoint)
            cw = session.client("cloudwatch", endpoint_url=endpoint)
            account = session.client("sts", endpoint_url=endpoint).get_caller_identity()["Account"]
            bucket = f"sagemaker-us-east-1-{account}"
            try:
                s3.head_bucket(Bucket=bucket)
            except botocore.exceptions.ClientError as e:
                assert e.response["Error"]["Code"] == "404", e.response
                s3.create_bucket(Bucket=bucket)
            job = sys.argv[1]
            train = (
                "import os, helper\n"
                "host = os.environ['SM_CURRENT_HOST']\n"
                "n = int(host.split('-')[1])\n"
                "rows = open(os.path.join(os.environ['SM_CHANNEL_TRAIN'], 'train.csv')).read().split()\n"
                "for epoch in range(3):\n"
                "    print(f'epoch={epoch} loss={helper.loss(n, epoch)} rows={len(rows)}', flush=True)\n"
                "open(os.path.join(os.environ['SM_MODEL_DIR'], 'model-' + host + '.txt'), 'w').write(os.environ['SM_HP_ALPHA'])\n"
            )
            source = io.BytesIO()
            with tarfile.open(fileobj=source, mode="w:gz") as tar:
                for name, text in [("train.py", train), ("helper.py", "def loss(n, epoch):\n    return 10 * n + epoch + 0.5\n")]:
                    info = tarfile.TarInfo(name)
                    info.size = len(text.encode())
                    tar.addfile(info, io.BytesIO(text.encode()))
            source.seek(0)
            s3.upload_fileobj(source, bucket, f"{job}/source/sourcedir.tar.gz")
            s3.put_object(Bucket=bucket, Key="data/train/train.csv", Body=b"1,2\n3,4\n5,6\n")
            hps = {"sagemaker_program": json.dumps("train.py"), "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{job}/source/sourcedir.tar.gz"),
                   "sagemaker_container_log_level": "20", "sagemaker_job_name": json.dumps(job), "sagemaker_region": json.dumps("us-east-1"),
                   "alpha": json.dumps("0.5")}
            sm.create_training_job(
                TrainingJobName=job, RoleArn=f"arn:aws:iam::{account}:role/SageMakerRole", HyperParameters=hps,
                AlgorithmSpecification={"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                                        "TrainingInputMode": "File", "EnableSageMakerMetricsTimeSeries": True,
                                        "MetricDefinitions": [{"Name": "train:loss", "Regex": "loss=([0-9.]+)"}]},
                InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train",
                                  "S3DataDistributionType": "FullyReplicated"}}}],
                OutputDataConfig={"S3OutputPath": f"s3://{bucket}/"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 30},
                StoppingCondition={"MaxRuntimeInSeconds": 600},
                DebugHookConfig={"S3OutputPath": f"s3://{bucket}/"},
                ProfilerConfig={"S3OutputPath": f"s3://{bucket}/", "DisableProfiler": False},
                ProfilerRuleConfigurations=[{"RuleConfigurationName": "ProfilerReport-1", "RuleEvaluatorImage": "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest",
                                             "RuleParameters": {"rule_to_invoke": "ProfilerReport"}}])
            for _ in range(600):
                d = sm.describe_training_job(TrainingJobName=job)
                if d["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                    break
                time.sleep(0.2)
            out = {"status": d["TrainingJobStatus"], "reason": d.get("FailureReason", "")}
            streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job + "/", orderBy="LogStreamName", limit=2)["logStreams"]
            lines = []
            for stream in streams:
                events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startTime=0, startFromHead=True)["events"]
                lines += [e["message"] for e in events if "loss=" in e["message"]]
            out["streams"] = [s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams]
            out["lines"] = sorted(lines)
            start, end = d["TrainingStartTime"], d["TrainingEndTime"] + datetime.timedelta(seconds=60)
            sdk = cw.get_metric_statistics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="train:loss", Dimensions=[{"Name": "TrainingJobName", "Value": job}],
                                           StartTime=start, EndTime=end, Period=60, Statistics=["Average"])
            out["sdkPoints"] = [p["Average"] for p in sdk["Datapoints"]]
            totals = cw.get_metric_statistics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="train:loss", Dimensions=[{"Name": "TrainingJobName", "Value": job}],
                                              StartTime=start, EndTime=end, Period=60, Statistics=["Sum", "SampleCount"])["Datapoints"]
            out["sum"], out["count"] = sum(p["Sum"] for p in totals), sum(p["SampleCount"] for p in totals)
            model = d["ModelArtifacts"]["S3ModelArtifacts"]
            key = model.split("/", 3)[3]
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
                out["model"] = sorted(m.name for m in tar.getmembers() if m.isfile())
                out["alpha"] = tar.extractfile([m for m in tar.getmembers() if m.name.endswith("model-algo-1.txt")][0]).read().decode()
            print(json.dumps(out))
            """;
        var name = TestJobs.UniqueName("sdk-fit");
        var result = await Boto3.JsonAsync(server.Address, script, name);
        Assert.True(result["status"]!.GetValue<string>() == "Completed", result.ToJsonString() + server.LogOf(name));
        Assert.Equal("[\"algo-1\",\"algo-2\"]", result["streams"]!.ToJsonString());
        var lines = result["lines"]!.AsArray().Select(l => l!.GetValue<string>()).ToList();
        Assert.Equal(6, lines.Count);
        Assert.Contains("epoch=2 loss=22.5 rows=3", lines);
        Assert.NotEmpty(result["sdkPoints"]!.AsArray());
        Assert.All(result["sdkPoints"]!.AsArray(), p => Assert.InRange(p!.GetValue<double>(), 10.5, 22.5));
        Assert.Equal(99.0, result["sum"]!.GetValue<double>());
        Assert.Equal(6.0, result["count"]!.GetValue<double>());
        Assert.Contains("model-algo-1.txt", result["model"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("0.5", result["alpha"]!.GetValue<string>());
    }
}
