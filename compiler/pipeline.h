// The compiler pipeline: the passes from a loaded model to an executable.
#pragma once
