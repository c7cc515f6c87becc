using System.Text.Json.Nodes;
using Trainyard.Hosts;

namespace Trainyard.ScriptMode;

/// <summary>
/// The environment sagemaker-training-toolkit gives the user's script (<c>Environment.to_env_vars()</c> and
/// what it sets in <c>os.environ</c>): the container contract's variables with the <c>sagemaker_*</c>
/// parameters taken out of <c>SM_HPS</c>, <c>SM_HP_*</c>, <c>SM_USER_ARGS</c> and <c>SM_TRAINING_ENV</c>, and
/// the toolkit's own (<c>SM_MODULE_DIR</c>, <c>SM_MODULE_NAME</c>, <c>SM_USER_ENTRY_POINT</c>,
/// <c>SM_FRAMEWORK_PARAMS</c>, <c>SM_FRAMEWORK_MODULE</c>, <c>SM_LOG_LEVEL</c>, <c>PYTHONPATH</c> …).
/// </summary>
public static class ScriptModeEnvironment
{
    private const string Group = "homogeneousCluster";

    /// <summary>The script's environment; <paramref name="program"/> is the entry point as the job names it.</summary>
    public static Dictionary<string, string> Build(ContainerContract contract, HostPlan plan, ScriptModeHyperParameters hps, string program)
    {
        var env = contract.Environment();
        var userArgs = hps.UserArguments();
        var moduleDir = hps.Text(ScriptModeHyperParameters.SubmitDirectory) ?? contract.CodeDir;
        var moduleName = program.EndsWith(".py", StringComparison.Ordinal) ? program[..^3] : program;
        var logLevel = hps.All.TryGetValue(ScriptModeHyperParameters.LogLevel, out var level) ? level?.DeepClone() : JsonValue.Create(20);
        var hosts = new JsonArray(plan.Hosts.Select(h => (JsonNode)JsonValue.Create(h)).ToArray());
        var master = plan.Hosts[0];

        var training = contract.TrainingEnvironment();
        training["hyperparameters"] = hps.User.DeepClone();
        training["user_args"] = new JsonArray(userArgs.Select(a => (JsonNode)JsonValue.Create(a)).ToArray());
        training["additional_framework_parameters"] = hps.Framework.DeepClone();
        training["current_instance_group_hosts"] = hosts.DeepClone();
        training["distribution_hosts"] = new JsonArray();
        training["distribution_instance_groups"] = new JsonArray();
        training["framework_module"] = null;
        training["instance_groups"] = new JsonArray(Group);
        training["instance_groups_dict"] = InstanceGroups(plan);
        training["is_hetero"] = false;
        training["is_master"] = plan.HostName == master;
        training["is_modelparallel_enabled"] = null;
        training["log_level"] = logLevel?.DeepClone();
        training["master_hostname"] = master;
        training["module_dir"] = moduleDir;
        training["module_name"] = moduleName;
        training["num_neurons"] = 0;
        training["user_entry_point"] = program;

        foreach (var key in env.Keys.Where(k => k.StartsWith("SM_HP_", StringComparison.Ordinal)).ToList())
        {
            env.Remove(key);
        }

        // The toolkit's to_env_vars: "SM_" + the upper-cased name, nothing else replaced.
        foreach (var (name, value) in hps.User)
        {
            env["SM_HP_" + name.ToUpperInvariant()] = ScriptModeHyperParameters.EnvironmentValue(value);
        }

        foreach (var channel in plan.Channels)
        {
            env["SM_CHANNEL_" + channel.Name.ToUpperInvariant()] = contract.DataDir + "/" + channel.Name;
        }

        env["SM_CHANNELS"] = PythonFormat.Dumps(new JsonArray(plan.Channels.Select(c => c.Name).Order(StringComparer.Ordinal).Select(c => (JsonNode)JsonValue.Create(c)).ToArray()));
        env["SM_HPS"] = PythonFormat.Dumps(hps.User);
        env["SM_USER_ARGS"] = PythonFormat.Dumps(training["user_args"]);
        env["SM_FRAMEWORK_PARAMS"] = PythonFormat.Dumps(hps.Framework);
        env["SM_FRAMEWORK_MODULE"] = "";
        env["SM_MODULE_DIR"] = moduleDir;
        env["SM_MODULE_NAME"] = moduleName;
        env["SM_USER_ENTRY_POINT"] = program;
        env["SM_LOG_LEVEL"] = ScriptModeHyperParameters.EnvironmentValue(logLevel);
        env["SM_INSTANCE_GROUPS"] = PythonFormat.Dumps(training["instance_groups"]);
        env["SM_INSTANCE_GROUPS_DICT"] = PythonFormat.Dumps(training["instance_groups_dict"]);
        env["SM_DISTRIBUTION_INSTANCE_GROUPS"] = "[]";
        env["SM_INPUT_DATA_CONFIG"] = PythonFormat.Dumps(contract.InputDataConfig());
        env["SM_RESOURCE_CONFIG"] = PythonFormat.Dumps(contract.ResourceConfig());
        env["SM_TRAINING_ENV"] = PythonFormat.Dumps(training);

        // What the toolkit sets in its own os.environ before starting the script.
        env["SAGEMAKER_JOB_NAME"] = hps.Text(ScriptModeHyperParameters.JobName) ?? "";
        env["SAGEMAKER_REGION"] = hps.Text(ScriptModeHyperParameters.Region) ?? plan.Region;
        env["CURRENT_HOST"] = plan.HostName;
        env["PYTHONPATH"] = env.TryGetValue("PYTHONPATH", out var pythonPath) && pythonPath.Length > 0 ? contract.CodeDir + ":" + pythonPath : contract.CodeDir;

        // The framework images set these in their Dockerfiles: output reaches the log line by line.
        env.TryAdd("PYTHONUNBUFFERED", "TRUE");
        env.TryAdd("PYTHONDONTWRITEBYTECODE", "TRUE");
        return env;
    }

    private static JsonObject InstanceGroups(HostPlan plan) => new()
    {
        [Group] = new JsonObject
        {
            ["hosts"] = new JsonArray(plan.Hosts.Select(h => (JsonNode)JsonValue.Create(h)).ToArray()),
            ["instance_group_name"] = Group,
            ["instance_type"] = plan.InstanceTypeName,
        },
    };
}
