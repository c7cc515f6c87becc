using Trainyard.Images;

namespace Trainyard.ScriptMode;

/// <summary>What CreateTrainingJob refuses for a job that runs in script mode, in words that say what to do.</summary>
public static class ScriptModeChecks
{
    /// <summary>The distributed launchers of sagemaker-training-toolkit and the SDK's <c>distribution</c> that turns each on.</summary>
    public static readonly IReadOnlyList<(string HyperParameter, string Launcher)> Launchers =
    [
        ("sagemaker_mpi_enabled", "MPI (mpirun; distribution={\"mpi\": …} or smdistributed modelparallel)"),
        ("sagemaker_distributed_dataparallel_enabled", "SageMaker distributed data parallel (distribution={\"smdistributed\": {\"dataparallel\": …}})"),
        ("sagemaker_torch_distributed_enabled", "torchrun (distribution={\"torch_distributed\": …})"),
        ("sagemaker_pytorch_ddp_enabled", "PyTorch DDP through mpirun (distribution={\"pytorchddp\": …})"),
        ("sagemaker_pytorch_xla_multi_worker_enabled", "PyTorch XLA (distribution={\"pytorchxla\": …})"),
        ("sagemaker_parameter_server_enabled", "the TensorFlow/MXNet parameter server (distribution={\"parameter_server\": …})"),
        ("sagemaker_multi_worker_mirrored_strategy_enabled", "TensorFlow MultiWorkerMirroredStrategy (distribution={\"multi_worker_mirrored_strategy\": …})"),
    ];

    /// <summary>Every problem of a script-mode job; <paramref name="trainingImage"/> is the image as the request named it.</summary>
    public static List<string> Problems(string trainingImage, IReadOnlyDictionary<string, string>? hyperParameters, IReadOnlyDictionary<string, string>? environment)
    {
        var problems = new List<string>();
        var hps = ScriptModeHyperParameters.Parse(hyperParameters);
        var program = environment is not null && environment.TryGetValue("SAGEMAKER_PROGRAM", out var fromEnvironment) && fromEnvironment.Length > 0
            ? fromEnvironment
            : hps.Text(ScriptModeHyperParameters.Program);
        if (string.IsNullOrWhiteSpace(program))
        {
            problems.Add(FrameworkImages.RepositoryOf(trainingImage) == FrameworkImages.XGBoost
                ? $"TrainingImage '{trainingImage}' without the hyperparameter sagemaker_program is SageMaker's built-in XGBoost algorithm, which Trainyard does not run. "
                  + "Use XGBoost in script mode (an entry_point script: the SDK sends it as the hyperparameters sagemaker_program and sagemaker_submit_directory), "
                  + "or map the image to a real XGBoost image in images.json (\"IMAGE\": \"registry/repo:tag\")."
                : $"TrainingImage '{trainingImage}' is a SageMaker framework image, which Trainyard runs in script mode: the hyperparameter sagemaker_program must name the training script "
                  + "(the SDK's entry_point, JSON-encoded as the SDK sends it: \"sagemaker_program\": \"\\\"train.py\\\"\"), or map the image to a real image in images.json.");
        }

        foreach (var (name, launcher) in Launchers)
        {
            if (hps.All.TryGetValue(name, out var value) && ScriptModeHyperParameters.IsTrue(value))
            {
                problems.Add($"The hyperparameter {name} is true: distributed training with {launcher} is not supported yet in script mode. "
                    + "Remove the estimator's distribution (every host then runs the script on its own, with SM_HOSTS and SM_CURRENT_HOST), or map the image to a real image in images.json.");
            }
        }

        return problems;
    }
}
