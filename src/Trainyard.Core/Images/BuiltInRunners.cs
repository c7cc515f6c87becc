namespace Trainyard.Images;

/// <summary>
/// The place in the resolution order for built-in runners: images Trainyard runs without pulling them
/// (SageMaker's framework images run as a script-mode runner on the machine's Python). Steps added here
/// are asked after the image map and before the transports and the registry. The script-mode runner
/// (<see cref="ScriptModeStep"/>) is registered from the start.
/// </summary>
public static class BuiltInRunners
{
    private static readonly List<IImageResolutionStep> Registered = [new ScriptModeStep()];
    private static readonly Lock Gate = new();

    public static IReadOnlyList<IImageResolutionStep> All
    {
        get
        {
            lock (Gate)
            {
                return [.. Registered];
            }
        }
    }

    public static void Register(IImageResolutionStep step)
    {
        lock (Gate)
        {
            if (Registered.Any(s => s.Name == step.Name))
            {
                throw new InvalidOperationException($"A built-in runner named '{step.Name}' is already registered.");
            }

            Registered.Add(step);
        }
    }
}
