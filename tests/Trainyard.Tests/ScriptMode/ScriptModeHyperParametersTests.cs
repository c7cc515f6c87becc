using System.Text.Json.Nodes;
using Trainyard.ScriptMode;

namespace Trainyard.Tests.ScriptMode;

/// <summary>Hyperparameters as sagemaker-training-toolkit decodes and passes them, and Python's formatting of them.</summary>
public sealed class ScriptModeHyperParametersTests
{
    // What the SDK sends for SKLearn(entry_point="train.py", source_dir=…, hyperparameters={…}).
    private static readonly Dictionary<string, string> Sdk = new()
    {
        ["sagemaker_program"] = "\"train.py\"",
        ["sagemaker_submit_directory"] = "\"s3://bucket/job/source/sourcedir.tar.gz\"",
        ["sagemaker_region"] = "\"us-east-1\"",
        ["sagemaker_container_log_level"] = "20",
        ["sagemaker_job_name"] = "\"job-1\"",
        ["sagemaker_mpi_enabled"] = "false",
        ["_tuning_objective_metric"] = "\"loss\"",
        ["learning-rate"] = "\"0.1\"",
        ["epochs"] = "3",
        ["use_bias"] = "true",
        ["layers"] = "[64, 32]",
        ["x"] = "1e-5",
        ["opts"] = "{\"b\": 2, \"a\": \"z\"}",
        ["plain"] = "not json",
    };

    [Fact]
    public void Parse_SdkValues_DecodesAndSplitsAsTheToolkit()
    {
        var hps = ScriptModeHyperParameters.Parse(Sdk);
        Assert.Equal("train.py", hps.Text("sagemaker_program"));
        Assert.Equal("s3://bucket/job/source/sourcedir.tar.gz", hps.Text("sagemaker_submit_directory"));
        Assert.Equal(["epochs", "layers", "learning-rate", "opts", "plain", "use_bias", "x"], hps.User.Select(p => p.Key));
        Assert.Equal(["sagemaker_mpi_enabled"], hps.Framework.Select(p => p.Key));
        Assert.Equal("""{"epochs":3,"layers":[64,32],"learning-rate":"0.1","opts":{"a":"z","b":2},"plain":"not json","use_bias":true,"x":1e-05}""",
            PythonFormat.Dumps(hps.User));
    }

    [Fact]
    public void UserArguments_SortedNamesAndPythonStrValues()
    {
        var hps = ScriptModeHyperParameters.Parse(Sdk);
        Assert.Equal(
            ["--epochs", "3", "--layers", "[64, 32]", "--learning-rate", "0.1", "--opts", "a=z,b=2", "--plain", "not json", "--use_bias", "True", "-x", "1e-05"],
            hps.UserArguments());
    }

    [Theory]
    [InlineData("0.1", "0.1")]
    [InlineData("1e-5", "1e-05")]
    [InlineData("1.5e-05", "1.5e-05")]
    [InlineData("0.0001", "0.0001")]
    [InlineData("100.0", "100.0")]
    [InlineData("1e16", "1e+16")]
    [InlineData("1e15", "1000000000000000.0")]
    [InlineData("-2.5", "-2.5")]
    [InlineData("123456789012345678901234567890", "123456789012345678901234567890")]
    [InlineData("-0", "0")]
    [InlineData("0.0", "0.0")]
    [InlineData("3.14159", "3.14159")]
    public void Number_IsPythonsRepr(string json, string python) => Assert.Equal(python, PythonFormat.Number(json));

    [Fact]
    public void Repr_OfNestedValues_IsPythons()
    {
        Assert.Equal("[1, 'a', True, None, {'k': [2.0]}]", PythonFormat.Repr(JsonNode.Parse("""[1, "a", true, null, {"k": [2.0]}]""")));
        Assert.Equal("\"it's\"", PythonFormat.Repr(JsonValue.Create("it's")));
        Assert.Equal("""{"s":"caf\u00e9 \"q\"\n"}""", PythonFormat.Dumps(JsonNode.Parse("""{"s": "café \"q\"\n"}""")));
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("\"true\"", true)]
    [InlineData("1", true)]
    [InlineData("false", false)]
    [InlineData("\"false\"", false)]
    [InlineData("0", false)]
    [InlineData("\"\"", false)]
    [InlineData("null", false)]
    public void IsTrue_AsTheToolkitTestsLaunchers(string value, bool expected) =>
        Assert.Equal(expected, ScriptModeHyperParameters.IsTrue(ScriptModeHyperParameters.Decode(value)));

    [Fact]
    public void Problems_FrameworkImageWithoutProgram_SaysWhatToDo()
    {
        var sklearn = ScriptModeChecks.Problems("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", new Dictionary<string, string>(), null);
        Assert.Contains("sagemaker_program", Assert.Single(sklearn), StringComparison.Ordinal);
        var xgboost = ScriptModeChecks.Problems("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", null, null);
        Assert.Contains("built-in XGBoost algorithm", Assert.Single(xgboost), StringComparison.Ordinal);
        Assert.Empty(ScriptModeChecks.Problems("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", null,
            new Dictionary<string, string> { ["SAGEMAKER_PROGRAM"] = "train.py" }));
        Assert.Empty(ScriptModeChecks.Problems("x", Sdk, null));
    }

    [Theory]
    [InlineData("sagemaker_mpi_enabled")]
    [InlineData("sagemaker_distributed_dataparallel_enabled")]
    [InlineData("sagemaker_torch_distributed_enabled")]
    [InlineData("sagemaker_pytorch_xla_multi_worker_enabled")]
    [InlineData("sagemaker_parameter_server_enabled")]
    [InlineData("sagemaker_multi_worker_mirrored_strategy_enabled")]
    public void Problems_DistributedLauncher_NamesTheHyperparameter(string launcher)
    {
        var hps = new Dictionary<string, string>(Sdk) { [launcher] = "true" };
        var problem = Assert.Single(ScriptModeChecks.Problems("x", hps, null));
        Assert.Contains(launcher, problem, StringComparison.Ordinal);
        Assert.Contains("not supported yet", problem, StringComparison.Ordinal);
    }
}
