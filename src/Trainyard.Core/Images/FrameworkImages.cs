namespace Trainyard.Images;

/// <summary>
/// The SageMaker framework images (AWS Deep Learning Containers and the SageMaker framework containers):
/// images whose entry point is sagemaker-training-toolkit, which runs the user's <c>sagemaker_program</c>.
/// They are recognised by repository name, in any account and region of ECR (<c>.amazonaws.com</c> and
/// <c>.amazonaws.com.cn</c>).
/// </summary>
public static class FrameworkImages
{
    /// <summary>The repositories whose images run as script mode.</summary>
    public static readonly IReadOnlyList<string> Repositories =
    [
        "sagemaker-scikit-learn",
        "pytorch-training",
        "tensorflow-training",
        "huggingface-pytorch-training",
        "huggingface-tensorflow-training",
        "mxnet-training",
        "sagemaker-xgboost",
    ];

    /// <summary>The repository of SageMaker's XGBoost image, which is also the built-in XGBoost algorithm.</summary>
    public const string XGBoost = "sagemaker-xgboost";

    /// <summary>The framework repository <paramref name="image"/> belongs to, or null when it is not a framework image.</summary>
    public static string? RepositoryOf(string image)
    {
        if (!ImageReference.TryParse(image, out var reference, out _) || !IsEcr(reference!.Domain))
        {
            return null;
        }

        return Repositories.FirstOrDefault(r => r == reference.Repository);
    }

    private static bool IsEcr(string domain)
    {
        // <account>.dkr.ecr.<region>.amazonaws.com[.cn]
        var parts = domain.Split('.');
        var suffix = domain.EndsWith(".amazonaws.com.cn", StringComparison.Ordinal) ? 3 : domain.EndsWith(".amazonaws.com", StringComparison.Ordinal) ? 2 : 0;
        return suffix > 0 && parts.Length == 4 + suffix && parts[0].Length > 0 && parts[0].All(char.IsAsciiDigit) && parts[1] == "dkr" && parts[2] == "ecr";
    }
}
