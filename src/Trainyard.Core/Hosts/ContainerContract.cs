using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Trainyard.Hosts;

/// <summary>
/// SageMaker's container contract for one host: the <c>/opt/ml</c> layout, the four config files and the
/// environment (the job's own map, <c>TRAINING_JOB_*</c>, and the <c>SM_*</c> variables that the
/// sagemaker-training-toolkit defines). <see cref="MlRoot"/> is what the algorithm sees as
/// <c>/opt/ml</c>: that path in a sandbox, the host directory itself without one.
/// </summary>
public sealed class ContainerContract(HostPlan plan, bool sandboxed)
{
    public string MlRoot { get; } = sandboxed ? "/opt/ml" : plan.HostDirectory;

    public string InputDir => MlRoot + "/input";
    public string ConfigDir => MlRoot + "/input/config";
    public string DataDir => MlRoot + "/input/data";
    public string ModelDir => MlRoot + "/model";
    public string OutputDir => MlRoot + "/output";
    public string OutputDataDir => MlRoot + "/output/data";
    public string CodeDir => MlRoot + "/code";

    /// <summary>Creates the directories and writes the config files into the host directory.</summary>
    public void Lay()
    {
        var root = plan.HostDirectory;
        foreach (var dir in new[] { "input/config", "input/data", "model", "output/data", "output/intermediate", "code", "checkpoints" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }

        Directory.CreateDirectory(Path.Combine(root, "output/data", plan.HostName));
        var config = Path.Combine(root, "input/config");
        File.WriteAllText(Path.Combine(config, "hyperparameters.json"), HyperParametersJson());
        File.WriteAllText(Path.Combine(config, "inputdataconfig.json"), InputDataConfig().ToJsonString());
        File.WriteAllText(Path.Combine(config, "resourceconfig.json"), ResourceConfig().ToJsonString());
        File.WriteAllText(Path.Combine(config, "trainingjobconfig.json"), plan.TrainingJobConfigJson);
        foreach (var channel in plan.Channels.Where(c => c.InputMode is "File" or "FastFile"))
        {
            Directory.CreateDirectory(Path.Combine(root, "input/data", channel.Name));
        }
    }

    public string HyperParametersJson()
    {
        var obj = new JsonObject();
        foreach (var (k, v) in plan.HyperParameters)
        {
            obj[k] = v;
        }

        return obj.ToJsonString();
    }

    public JsonObject InputDataConfig()
    {
        var obj = new JsonObject();
        foreach (var c in plan.Channels)
        {
            var entry = new JsonObject
            {
                ["TrainingInputMode"] = c.InputMode,
                ["S3DistributionType"] = c.S3DistributionType,
                ["RecordWrapperType"] = c.RecordWrapperType,
            };
            if (c.ContentType is not null)
            {
                entry["ContentType"] = c.ContentType;
            }

            if (c.CompressionType is not null)
            {
                entry["CompressionType"] = c.CompressionType;
            }

            obj[c.Name] = entry;
        }

        return obj;
    }

    public JsonObject ResourceConfig() => new()
    {
        ["current_host"] = plan.HostName,
        ["current_instance_type"] = plan.InstanceTypeName,
        ["current_group_name"] = "homogeneousCluster",
        ["hosts"] = new JsonArray(plan.Hosts.Select(h => (JsonNode)JsonValue.Create(h)).ToArray()),
        ["instance_groups"] = new JsonArray(new JsonObject
        {
            ["instance_group_name"] = "homogeneousCluster",
            ["instance_type"] = plan.InstanceTypeName,
            ["hosts"] = new JsonArray(plan.Hosts.Select(h => (JsonNode)JsonValue.Create(h)).ToArray()),
        }),
        ["network_interface_name"] = NetworkInterfaceName,
    };

    /// <summary>Hosts talk over loopback addresses on one machine.</summary>
    public static string NetworkInterfaceName => "lo";

    /// <summary>The toolkit's <c>SM_TRAINING_ENV</c>: the whole training environment as one JSON object.</summary>
    public JsonObject TrainingEnvironment()
    {
        var (cpus, gpus) = InstanceType.Lookup(plan.InstanceTypeName).EffectiveOnThisMachine();
        var channelDirs = new JsonObject();
        foreach (var c in plan.Channels)
        {
            channelDirs[c.Name] = DataDir + "/" + c.Name;
        }

        return new JsonObject
        {
            ["channel_input_dirs"] = channelDirs,
            ["current_host"] = plan.HostName,
            ["current_instance_type"] = plan.InstanceTypeName,
            ["current_instance_group"] = "homogeneousCluster",
            ["hosts"] = new JsonArray(plan.Hosts.Select(h => (JsonNode)JsonValue.Create(h)).ToArray()),
            ["hyperparameters"] = HyperParametersObject(),
            ["input_config_dir"] = ConfigDir,
            ["input_data_config"] = InputDataConfig(),
            ["input_dir"] = InputDir,
            ["job_name"] = plan.JobName,
            ["log_level"] = 20,
            ["model_dir"] = ModelDir,
            ["network_interface_name"] = NetworkInterfaceName,
            ["num_cpus"] = cpus,
            ["num_gpus"] = gpus,
            ["output_data_dir"] = OutputDataDir + "/" + plan.HostName,
            ["output_dir"] = OutputDir,
            ["output_intermediate_dir"] = OutputDir + "/intermediate",
            ["resource_config"] = ResourceConfig(),
            ["user_args"] = UserArgs(),
        };
    }

    private JsonObject HyperParametersObject()
    {
        var hps = new JsonObject();
        foreach (var (k, v) in plan.HyperParameters)
        {
            hps[k] = ParseHyperParameter(v);
        }

        return hps;
    }

    private JsonArray UserArgs()
    {
        var userArgs = new JsonArray();
        foreach (var (k, v) in plan.HyperParameters)
        {
            userArgs.Add("--" + k);
            userArgs.Add(v);
        }

        return userArgs;
    }

    /// <summary>The environment the algorithm starts with.</summary>
    public Dictionary<string, string> Environment()
    {
        var type = InstanceType.Lookup(plan.InstanceTypeName);
        var (cpus, gpus) = type.EffectiveOnThisMachine();
        var channels = plan.Channels.Select(c => c.Name).ToList();
        var hps = HyperParametersObject();
        var userArgs = UserArgs();
        var hostOutputData = OutputDataDir + "/" + plan.HostName;
        var trainingEnv = TrainingEnvironment();

        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in plan.StoreEnvironment)
        {
            env[k] = v;
        }

        foreach (var (k, v) in plan.Environment)
        {
            env[k] = v;
        }

        // sagemaker-training-toolkit and boto3 before 1.28 read only S3_ENDPOINT_URL.
        if (env.TryGetValue("AWS_ENDPOINT_URL_S3", out var s3Endpoint) && !env.ContainsKey("S3_ENDPOINT_URL"))
        {
            env["S3_ENDPOINT_URL"] = s3Endpoint;
        }

        env["TRAINING_JOB_NAME"] = plan.JobName;
        env["TRAINING_JOB_ARN"] = plan.JobArn;
        env["AWS_REGION"] = plan.Region;
        env["AWS_DEFAULT_REGION"] = plan.Region;
        env["SM_MODEL_DIR"] = ModelDir;
        env["SM_CHANNELS"] = new JsonArray(channels.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()).ToJsonString();
        foreach (var c in channels)
        {
            env["SM_CHANNEL_" + c.ToUpperInvariant().Replace('-', '_').Replace('.', '_')] = DataDir + "/" + c;
        }

        env["SM_HPS"] = hps.ToJsonString();
        foreach (var (k, v) in plan.HyperParameters)
        {
            env["SM_HP_" + k.ToUpperInvariant().Replace('-', '_').Replace('.', '_')] = v;
        }

        env["SM_HOSTS"] = new JsonArray(plan.Hosts.Select(h => (JsonNode)JsonValue.Create(h)).ToArray()).ToJsonString();
        env["SM_CURRENT_HOST"] = plan.HostName;
        env["SM_CURRENT_INSTANCE_TYPE"] = plan.InstanceTypeName;
        env["SM_CURRENT_INSTANCE_GROUP"] = "homogeneousCluster";
        env["SM_CURRENT_INSTANCE_GROUP_HOSTS"] = env["SM_HOSTS"];
        env["SM_IS_HETERO"] = "false";
        env["SM_NUM_CPUS"] = cpus.ToString(CultureInfo.InvariantCulture);
        env["SM_NUM_GPUS"] = gpus.ToString(CultureInfo.InvariantCulture);
        env["SM_NUM_NEURONS"] = "0";
        env["SM_LOG_LEVEL"] = "20";
        env["SM_NETWORK_INTERFACE_NAME"] = NetworkInterfaceName;
        env["SM_INPUT_DIR"] = InputDir;
        env["SM_INPUT_CONFIG_DIR"] = ConfigDir;
        env["SM_OUTPUT_DIR"] = OutputDir;
        env["SM_OUTPUT_DATA_DIR"] = hostOutputData;
        env["SM_OUTPUT_INTERMEDIATE_DIR"] = OutputDir + "/intermediate";
        env["SM_INPUT_DATA_CONFIG"] = InputDataConfig().ToJsonString();
        env["SM_RESOURCE_CONFIG"] = ResourceConfig().ToJsonString();
        env["SM_USER_ARGS"] = userArgs.ToJsonString();
        env["SM_TRAINING_ENV"] = trainingEnv.ToJsonString();
        env["SAGEMAKER_BASE_DIR"] = MlRoot;
        return env;
    }

    // The toolkit decodes hyperparameter values that are JSON (numbers, booleans, lists) and keeps the rest as strings.
    private static JsonNode? ParseHyperParameter(string value)
    {
        try
        {
            return JsonNode.Parse(value) ?? JsonValue.Create(value);
        }
        catch (JsonException)
        {
            return JsonValue.Create(value);
        }
    }

    /// <summary>The <c>/etc/hosts</c> of this host: every host name resolves to its address.</summary>
    public string HostsFile()
    {
        var sb = new StringBuilder();
        sb.Append("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        foreach (var host in plan.Hosts)
        {
            sb.Append(plan.HostAddresses[host]).Append('\t').Append(host).Append('\n');
        }

        return sb.ToString();
    }
}
