using Trainyard.Images;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.ScriptMode;

/// <summary>Which images run in script mode, on which interpreter, and the stored form hosts read back.</summary>
public sealed class ScriptModeResolutionTests
{
    private static readonly Dictionary<string, string> NoMap = [];

    [Theory]
    [InlineData("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")]
    [InlineData("763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.0.0-cpu-py310")]
    [InlineData("763104351884.dkr.ecr.us-west-2.amazonaws.com/tensorflow-training:2.13-cpu-py310")]
    [InlineData("763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:1.13-transformers4.26-gpu-py39-cu117-ubuntu20.04")]
    [InlineData("763104351884.dkr.ecr.ap-southeast-1.amazonaws.com/mxnet-training:1.9.0-cpu-py38")]
    [InlineData("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1")]
    [InlineData("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.0.0-cpu-py310")]
    [InlineData("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training@sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    public void Resolve_FrameworkImage_RunsInScriptModeOnTheMachinesPython(string image)
    {
        var resolved = new ImageResolutionOrder(NoMap).Resolve(image, out var problem);
        Assert.True(resolved is ResolvedImage.ScriptMode { Interpreter: "/usr/bin/python3" }, problem);
        Assert.Equal("script-mode:/usr/bin/python3", resolved!.Stored);
        Assert.Equal(resolved, ResolvedImage.Parse(resolved.Stored));
    }

    [Theory]
    [InlineData("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo:1")]
    [InlineData("docker.io/library/pytorch-training:1")]
    [InlineData("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.0.0-cpu-py310")]
    [InlineData("python:3.11")]
    public void Resolve_OtherImages_AreContainers(string image) =>
        Assert.IsType<ResolvedImage.Container>(new ImageResolutionOrder(NoMap).Resolve(image, out _));

    [Fact]
    public void Resolve_ImageMapNamesAVirtualenv_RunsOnItsPython()
    {
        using var dir = new TempDirectory();
        var python = dir.Write("venv/bin/python3", "#!/bin/sh\n", executable: true);
        var map = new Dictionary<string, string> { ["683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"] = "python:" + dir["venv"] };
        var resolved = new ImageResolutionOrder(map).Resolve("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", out var problem);
        Assert.True(resolved is ResolvedImage.ScriptMode, problem);
        Assert.Equal(new ResolvedImage.ScriptMode(python), resolved);

        map = new Dictionary<string, string> { ["683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"] = "python:" + python };
        Assert.Equal(new ResolvedImage.ScriptMode(python), new ImageResolutionOrder(map).Resolve("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", out _));
    }

    [Fact]
    public void Resolve_ImageMapNamesARealImage_WinsOverScriptMode()
    {
        var map = new Dictionary<string, string> { ["763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training"] = "127.0.0.1:5000/pytorch:2" };
        var resolved = new ImageResolutionOrder(map).Resolve("763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.0.0-cpu-py310", out _);
        Assert.Equal("docker://127.0.0.1:5000/pytorch:2", Assert.IsType<ResolvedImage.Container>(resolved).Stored);
    }

    [Fact]
    public void Resolve_MissingInterpreter_SaysHowToNameAnother()
    {
        var map = new Dictionary<string, string> { ["683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"] = "python:/nonexistent/bin/python" };
        Assert.Null(new ImageResolutionOrder(map).Resolve("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", out var problem));
        Assert.Contains("/nonexistent/bin/python", problem, StringComparison.Ordinal);
        Assert.Contains("images.json", problem, StringComparison.Ordinal);
    }
}
