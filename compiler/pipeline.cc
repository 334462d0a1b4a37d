#include "compiler/pipeline.h"
